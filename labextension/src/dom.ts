// A tiny element builder: the sidebar is plain DOM inside a Lumino widget (no framework).

type Attributes = Record<string, string | number | boolean | EventListener | undefined>;
type Child = Node | string | null | undefined | false;

/** `h('button', {class: 'x', onclick: f}, 'Label')`: attributes whose name starts with
 * "on" become listeners; `false`/`undefined` attributes and children are skipped. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) {
      continue;
    }
    if (typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      element.append(child);
    }
  }
  return element;
}

/** A collapsible titled section; the heading is a real heading for screen readers. */
export function section(title: string, id: string, ...children: Child[]): HTMLElement {
  const headingId = `coral-${id}-heading`;
  return h(
    'section',
    { class: `coral-section coral-${id}`, 'aria-labelledby': headingId },
    h('h3', { id: headingId, class: 'coral-section-title' }, title),
    ...children
  );
}

export function shortDate(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}
