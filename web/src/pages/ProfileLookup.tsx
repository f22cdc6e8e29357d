/** Finding a profile: pick a database, type the value of its match field (an e-mail
 * address, an external id…), open the card. */
import { useEffect, useState } from "react";
import { ApiError, get } from "../api";
import { links, navigate } from "../router";
import { EmptyState, ErrorBanner } from "../components/Feedback";
import { errorMessage } from "../components/format";
import type { Database, Profile } from "../components/types";

export const profilesLink = () => "#/profiles";

export function ProfileLookup() {
  const [databases, setDatabases] = useState<Database[] | null>(null);
  const [databaseId, setDatabaseId] = useState<number | null>(null);
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    get<Database[]>("/databases")
      .then((list) => {
        setDatabases(list);
        if (list.length > 0) setDatabaseId(list[0].id);
      })
      .catch((err) => setError(errorMessage(err)));
  }, []);

  const database = databases?.find((d) => d.id === databaseId) ?? null;
  const matchField = database?.match_field ?? "email";

  return (
    <div className="page-content">
      <div className="page-header">
        <h1>Profiles</h1>
      </div>
      {databases !== null && databases.length === 0 ? (
        <EmptyState title="No profile databases yet." />
      ) : (
        <div className="card card-pad">
          <form
            className="lookup"
            onSubmit={async (e) => {
              e.preventDefault();
              if (databaseId === null || !key.trim()) return;
              setBusy(true);
              setError(null);
              try {
                const p = await get<Profile>(
                  `/databases/${databaseId}/profiles/by-key?key=${encodeURIComponent(key.trim())}`,
                );
                navigate(links.profile(p.database_id, p.id));
              } catch (err) {
                setError(
                  err instanceof ApiError && err.status === 404
                    ? `No profile with ${matchField} “${key.trim()}” in ${database?.name ?? "this database"}.`
                    : errorMessage(err),
                );
              } finally {
                setBusy(false);
              }
            }}
          >
            <label>
              Database
              <select value={databaseId ?? ""} onChange={(e) => setDatabaseId(Number(e.target.value))}>
                {(databases ?? []).map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Match key ({matchField})
              <input
                aria-label="Match key"
                value={key}
                onChange={(e) => setKey(e.target.value)}
                placeholder={matchField === "email" ? "name@example.com" : matchField}
              />
            </label>
            <button type="submit" className="primary" disabled={busy || !key.trim() || databaseId === null}>
              Open profile card
            </button>
          </form>
          <p className="muted small">Profiles are found by the value of the database's match field.</p>
        </div>
      )}
      {error && <ErrorBanner message={error} />}
    </div>
  );
}
