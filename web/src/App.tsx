/** The shell: sign-in with an API token, the top bar, and the hash routes. */
import { useEffect, useState } from "react";
import { getToken, setToken } from "./api";
import { links, useRoute } from "./router";
import { ScenarioList } from "./pages/ScenarioList";
import { ProfileCard } from "./pages/ProfileCard";
import { ProfileLookup, profilesLink } from "./pages/ProfileLookup";
import { ScenarioReport } from "./pages/ScenarioReport";
import { Editor } from "./editor/Editor";

function SignIn({ onDone }: { onDone: () => void }) {
  const [value, setValue] = useState("");
  return (
    <div className="signin">
      <h1>Scenaria</h1>
      <p>Paste an API token (create one with <code>scenaria token create --user you --admin</code>).</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) {
            setToken(value.trim());
            onDone();
          }
        }}
      >
        <input
          aria-label="API token"
          type="password"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          placeholder="API token"
        />
        <button type="submit" className="primary">
          Sign in
        </button>
      </form>
    </div>
  );
}

export function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => getToken() !== null);
  useEffect(() => {
    const onUnauthorized = () => {
      setToken(null);
      setSignedIn(false);
    };
    window.addEventListener("scenaria:unauthorized", onUnauthorized);
    return () => window.removeEventListener("scenaria:unauthorized", onUnauthorized);
  }, []);
  if (!signedIn) return <SignIn onDone={() => setSignedIn(true)} />;

  let page;
  if (route[0] === "scenarios" && route[1] && route[2] === "report")
    page = <ScenarioReport scenarioId={Number(route[1])} />;
  else if (route[0] === "scenarios" && route[1]) page = <Editor scenarioId={Number(route[1])} />;
  else if (route[0] === "profiles") page = <ProfileLookup />;
  else if (route[0] === "databases" && route[2] === "profiles" && route[3])
    page = <ProfileCard key={`${route[1]}/${route[3]}`} databaseId={Number(route[1])} profileId={Number(route[3])} />;
  else page = <ScenarioList />;

  return (
    <div className="app">
      <header className="topbar">
        <a href={links.list()} className="brand">
          Scenaria
        </a>
        <nav>
          <a href={links.list()} className={route[0] === undefined || route[0] === "scenarios" ? "current" : undefined}>
            Automation scenarios
          </a>
          <a href={profilesLink()} className={route[0] === "profiles" || route[0] === "databases" ? "current" : undefined}>
            Profiles
          </a>
        </nav>
        <button
          className="link"
          onClick={() => {
            setToken(null);
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main className="page">{page}</main>
    </div>
  );
}
