import type { Schemas } from '../../api/client';

const LEVELS = ['low', 'medium', 'high', 'critical'] as const;
type Level = (typeof LEVELS)[number];

function levelOf(level: string): Level | null {
  return (LEVELS as readonly string[]).includes(level) ? (level as Level) : null;
}

/** The risk level as a coloured badge (the class gives the colour, the text says it too). */
export function RiskBadge({ level, score }: { level: string; score: number }) {
  const known = levelOf(level);
  return (
    <span className={`risk-badge risk-${known ?? 'unknown'}`} aria-label={`Risk ${level}, score ${score} of 100`}>
      {level} <span className="risk-score">{score}</span>
    </span>
  );
}

/** The risk of deleting the row with the reasons (and their points) that produced it. */
export function RiskSummary({ risk }: { risk: Schemas['Risk'] }) {
  return (
    <section aria-labelledby="risk-heading" className="risk-summary">
      <h2 id="risk-heading">
        Risk of deleting this row <RiskBadge level={risk.level} score={risk.score} />
      </h2>
      {risk.reasons.length === 0 ? (
        <p className="muted">Nothing else changes when this row is deleted.</p>
      ) : (
        <ul aria-label="Risk reasons">
          {risk.reasons.map((reason, index) => (
            <li key={index}>
              <span className="risk-points">+{reason.points}</span> {reason.reason}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
