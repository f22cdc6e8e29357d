/** The profile card (placeholder: being built). */
export function ProfileCard({ databaseId, profileId }: { databaseId: number; profileId: number }) {
  return (
    <h1>
      Profile {profileId} in database {databaseId}
    </h1>
  );
}
