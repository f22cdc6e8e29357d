/** Hash routing (`#/scenarios/3`): the API owns every real path, the UI lives at `/`. */
import { useEffect, useState } from "react";

export function currentRoute(): string[] {
  return window.location.hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean);
}

export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function navigate(path: string): void {
  window.location.hash = path.startsWith("#") ? path : `#${path}`;
}

export const links = {
  list: () => "#/",
  scenario: (id: number) => `#/scenarios/${id}`,
  profile: (databaseId: number, profileId: number) => `#/databases/${databaseId}/profiles/${profileId}`,
};
