import { useRef } from 'react';

export interface Tab<Id extends string> {
  id: Id;
  label: string;
}

/** A tablist whose arrow keys move between its tabs (and focus follows), as the WAI-ARIA tabs
 *  pattern has it. The caller keeps which tab is selected, in the URL. */
export function Tabs<Id extends string>({
  tabs,
  selected,
  onSelect,
  label,
  className,
}: {
  tabs: readonly Tab<Id>[];
  selected: Id;
  onSelect: (id: Id) => void;
  label: string;
  className?: string;
}) {
  const buttons = useRef<(HTMLButtonElement | null)[]>([]);
  return (
    <div
      role="tablist"
      aria-label={label}
      className={className ? `tabs ${className}` : 'tabs'}
      onKeyDown={(event) => {
        const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
        if (!step) return;
        const index = (tabs.findIndex((tab) => tab.id === selected) + step + tabs.length) % tabs.length;
        onSelect(tabs[index].id);
        buttons.current[index]?.focus();
      }}
    >
      {tabs.map((tab, index) => (
        <button
          key={tab.id}
          ref={(element) => {
            buttons.current[index] = element;
          }}
          type="button"
          role="tab"
          aria-selected={tab.id === selected}
          tabIndex={tab.id === selected ? 0 : -1}
          onClick={() => onSelect(tab.id)}
        >
          {tab.label}
        </button>
      ))}
    </div>
  );
}
