import { Link } from 'react-router';
import { useDumps } from '../api/queries';
import { ErrorMessage } from '../components/ErrorMessage';
import { DumpPhase } from '../components/DumpPhase';

export function HomePage() {
  const dumps = useDumps();
  if (dumps.error) return <ErrorMessage error={dumps.error} />;
  return (
    <section>
      <h1>Dumps</h1>
      <ul>
        {dumps.data?.map((dump) => (
          <li key={dump.id}>
            <Link to={`/dumps/${dump.id}`}>{dump.name}</Link> <DumpPhase dump={dump} />
          </li>
        ))}
      </ul>
    </section>
  );
}
