/** The scenario list (placeholder: being built). */
export function ScenarioList() {
  return <h1>Automation scenarios</h1>;
}
