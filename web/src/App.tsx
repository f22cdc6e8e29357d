/** The shell: sign-in with an API token, the top bar, and the hash routes. */
import { useEffect, useState } from "react";
import { getToken, setToken } from "./api";
import { links, useRoute } from "./router";
import { ScenarioList } from "./pages/ScenarioList";
import { ProfileCard } from "./pages/ProfileCard";
import { ProfileLookup, profilesLink } from "./pages/ProfileLookup";
import { ScenarioReport } from "./pages/ScenarioReport";
import { Editor } from "./editor/Editor";

export const TOKEN_REJECTED = "This token is unknown or revoked.";
const UNREACHABLE = "The server cannot be reached. Check that scenaria serve is running, then try again.";

/** Ask the server whether `token` signs in: null if it does, else why not. */
async function checkToken(token: string): Promise<string | null> {
  let response: Response;
  try {
    response = await fetch("/scenario-attributes", { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    return UNREACHABLE;
  }
  if (response.ok) return null;
  if (response.status === 401) return TOKEN_REJECTED;
  if (response.status >= 502 && response.status <= 504) return UNREACHABLE;
  return `The server could not check the token (HTTP ${response.status}). Try again.`;
}

function SignIn({ notice, onDone }: { notice: string | null; onDone: () => void }) {
  const [value, setValue] = useState("");
  const [problem, setProblem] = useState<string | null>(notice);
  const [checking, setChecking] = useState(false);
  return (
    <div className="signin">
      <h1>Scenaria</h1>
      <p>Paste an API token (create one with <code>scenaria token create --user you --admin</code>).</p>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const token = value.trim();
          if (!token || checking) return;
          setChecking(true);
          const why = await checkToken(token);
          setChecking(false);
          setProblem(why);
          if (why === null) {
            setToken(token);
            onDone();
          }
        }}
      >
        <input
          aria-label="API token"
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? "signin-problem" : undefined}
          type="password"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          placeholder="API token"
        />
        <button type="submit" className="primary" disabled={checking}>
          {checking ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {problem && (
        <p className="error signin-problem" id="signin-problem" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

export function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => getToken() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    const onUnauthorized = () => {
      // A stored token the server no longer knows: say so rather than just bounce.
      if (getToken() !== null) setNotice(TOKEN_REJECTED);
      setToken(null);
      setSignedIn(false);
    };
    window.addEventListener("scenaria:unauthorized", onUnauthorized);
    return () => window.removeEventListener("scenaria:unauthorized", onUnauthorized);
  }, []);
  if (!signedIn)
    return (
      <SignIn
        notice={notice}
        onDone={() => {
          setNotice(null);
          setSignedIn(true);
        }}
      />
    );

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
            setNotice(null);
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
