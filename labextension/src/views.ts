// Pure rendering: data from the API in, DOM out. Every action goes through `Actions`, so the
// panel (state, requests, refresh) is the only place that talks to the server.
import { BranchInfo, CommitDetails, GraphRow, Summary, TagInfo } from './api';
import { h, section, shortDate } from './dom';
import { graphWidth, renderLanes } from './graph';

export interface Actions {
  init(): void;
  checkout(ref: string): void;
  createBranch(name: string, from: string | null): void;
  tag(name: string, ref: string): void;
  select(hash: string): void;
  loadMore(): void;
  openInNotebook(code: string): void;
}

const MAX_LISTED_CHANGES = 12;

function count(n: number | undefined, noun: string): string {
  const plural = noun.endsWith('h') ? `${noun}es` : `${noun}s`;
  return `${n ?? 0} ${n === 1 ? noun : plural}`;
}

function metricsText(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([name, value]) => `${name}=${Number.isInteger(value) ? value : value.toPrecision(4)}`)
    .join(' ');
}

/** A text field and a button that submits it (Enter works too); both labelled. */
function nameForm(
  label: string,
  placeholder: string,
  button: string,
  submit: (name: string) => void
): HTMLElement {
  const input = h('input', {
    class: 'jp-mod-styled coral-input',
    type: 'text',
    placeholder,
    'aria-label': label
  });
  const go = () => {
    const name = input.value.trim();
    if (name) {
      submit(name);
    }
  };
  input.addEventListener('keydown', event => {
    if (event.key === 'Enter') {
      go();
    }
  });
  return h(
    'div',
    { class: 'coral-form' },
    input,
    h('button', { class: 'jp-mod-styled coral-button', type: 'button', onclick: go }, button)
  );
}

function button(label: string, onclick: () => void, title?: string): HTMLButtonElement {
  return h(
    'button',
    { class: 'jp-mod-styled coral-button', type: 'button', title, onclick: () => onclick() },
    label
  );
}

export function noRepository(summary: Summary, actions: Actions): HTMLElement {
  return h(
    'div',
    { class: 'coral-empty' },
    h('p', {}, 'No Coral repository in ', h('code', {}, `/${summary.directory}`), '.'),
    h(
      'button',
      {
        class: 'jp-mod-styled jp-mod-accept coral-button',
        type: 'button',
        onclick: () => actions.init()
      },
      'Init a repository here'
    )
  );
}

/** `commits`: how many commits the branches and tags reach. */
export function summaryView(summary: Summary, commits: number): HTMLElement {
  const staged = summary.staged;
  const stagedCount = staged ? staged.added + staged.modified + staged.removed : 0;
  return h(
    'div',
    { class: 'coral-summary' },
    h(
      'div',
      { class: 'coral-summary-branch' },
      summary.branch
        ? h('span', {}, 'On branch ', h('strong', {}, summary.branch))
        : h('span', {}, 'HEAD detached')
    ),
    h(
      'div',
      { class: 'coral-summary-head' },
      summary.head
        ? h('span', {}, h('code', {}, summary.head.slice(0, 8)), ' ', summary.head_message ?? '')
        : 'No commits yet'
    ),
    h(
      'div',
      { class: 'coral-summary-counts' },
      `${count(commits, 'commit')} · ${count(summary.branches, 'branch')} · ` +
        count(summary.tags, 'tag') +
        (stagedCount ? ` · ${stagedCount} staged` : '') +
        ` · /${summary.root}`
    )
  );
}

export function branchesView(
  branches: BranchInfo[],
  selected: string | null,
  actions: Actions
): HTMLElement {
  const items = branches.map(branch =>
    h(
      'li',
      { class: `coral-branch${branch.current ? ' coral-current' : ''}` },
      h('span', { class: 'coral-branch-name' }, branch.name),
      h('code', { class: 'coral-hash' }, branch.commit.slice(0, 8)),
      branch.current
        ? h('span', { class: 'coral-badge', 'aria-label': 'current branch' }, 'current')
        : h(
            'button',
            {
              class: 'jp-mod-styled coral-button',
              type: 'button',
              'aria-label': `Switch to branch ${branch.name}`,
              onclick: () => actions.checkout(branch.name)
            },
            'Switch'
          )
    )
  );
  const from = selected ? `from ${selected.slice(0, 8)}` : 'from HEAD';
  return section(
    'Branches',
    'branches',
    h('ul', { class: 'coral-list' }, ...items),
    nameForm('New branch name', `New branch (${from})`, 'Create', name =>
      actions.createBranch(name, selected)
    )
  );
}

export function historyView(
  rows: GraphRow[],
  total: number,
  head: string | null,
  selected: string | null,
  actions: Actions
): HTMLElement {
  const width = graphWidth(rows);
  const focusable = selected && rows.some(r => r.hash === selected) ? selected : rows[0]?.hash;
  const list = h('ul', {
    class: 'coral-history',
    role: 'listbox',
    'aria-label': 'Commits, newest first'
  });
  for (const row of rows) {
    const refs = row.refs.map(ref =>
      h('span', { class: `coral-ref${ref.startsWith('tag: ') ? ' coral-ref-tag' : ''}` }, ref)
    );
    const item = h(
      'li',
      {
        class: `coral-commit${row.hash === selected ? ' coral-selected' : ''}`,
        role: 'option',
        tabindex: row.hash === focusable ? 0 : -1,
        'aria-selected': row.hash === selected ? 'true' : 'false',
        'data-hash': row.hash,
        title: `${row.hash}\n${row.author}, ${shortDate(row.time)}\n\n${row.message}`,
        onclick: () => actions.select(row.hash)
      },
      renderLanes(row, width, row.hash === head),
      h('code', { class: 'coral-hash' }, row.short),
      ...refs,
      h('span', { class: 'coral-message' }, row.message)
    );
    list.append(item);
  }
  list.addEventListener('keydown', event => moveSelection(event, list, actions));
  return section(
    'History',
    'history',
    list,
    rows.length < total
      ? button(`Load more (${rows.length} of ${total})`, () => actions.loadMore())
      : null
  );
}

/** The listbox keyboard pattern: arrows and Home/End move the selection, Enter selects. */
function moveSelection(event: KeyboardEvent, list: HTMLElement, actions: Actions): void {
  const items = Array.from(list.querySelectorAll<HTMLElement>('[role="option"]'));
  const current = items.indexOf(document.activeElement as HTMLElement);
  const next: Record<string, number> = {
    ArrowDown: current + 1,
    ArrowUp: current - 1,
    Home: 0,
    End: items.length - 1
  };
  if (event.key in next) {
    const target = items[Math.max(0, Math.min(items.length - 1, next[event.key]))];
    if (target) {
      event.preventDefault();
      actions.select(target.dataset.hash!);
    }
  } else if ((event.key === 'Enter' || event.key === ' ') && current >= 0) {
    event.preventDefault();
    actions.select(items[current].dataset.hash!);
  }
}

export function tagsView(tags: TagInfo[], actions: Actions): HTMLElement {
  if (!tags.length) {
    return section('Tags', 'tags', h('p', { class: 'coral-muted' }, 'No tags yet.'));
  }
  const items = tags.map(tag =>
    h(
      'li',
      { class: 'coral-tag' },
      h(
        'button',
        {
          class: 'coral-link',
          type: 'button',
          'aria-label': `Select the commit of tag ${tag.name}`,
          onclick: () => actions.select(tag.commit)
        },
        tag.name
      ),
      h('code', { class: 'coral-hash' }, tag.commit.slice(0, 8)),
      h('span', { class: 'coral-metrics' }, metricsText(tag.metrics)),
      tag.description ? h('div', { class: 'coral-muted' }, tag.description) : null
    )
  );
  return section('Tags', 'tags', h('ul', { class: 'coral-list' }, ...items));
}

function nameList(title: string, names: string[]): HTMLElement | null {
  if (!names.length) {
    return null;
  }
  const shown = names.slice(0, MAX_LISTED_CHANGES).join(', ');
  const more =
    names.length > MAX_LISTED_CHANGES ? ` … and ${names.length - MAX_LISTED_CHANGES} more` : '';
  return h('div', {}, h('strong', {}, `${title} (${names.length}): `), shown + more);
}

export function detailsView(
  details: CommitDetails,
  head: string | null,
  actions: Actions
): HTMLElement {
  const parent = details.parents[0];
  const parents = details.parents.map(hash =>
    h(
      'button',
      {
        class: 'coral-link',
        type: 'button',
        onclick: () => actions.select(hash),
        'aria-label': `Select parent ${hash.slice(0, 8)}`
      },
      hash.slice(0, 8)
    )
  );
  const metrics = { ...details.commit_metrics };
  for (const values of Object.values(details.metrics)) {
    Object.assign(metrics, values);
  }
  const changes = details.changes;
  const buttons = h(
    'div',
    { class: 'coral-actions' },
    button(
      'Open DAG in notebook',
      () => actions.openInNotebook('%coral dag'),
      'Insert and run %coral dag in the active notebook'
    ),
    parent
      ? button('Diff vs parent in notebook', () =>
          actions.openInNotebook(
            `%coral diffview ${parent.slice(0, 12)} ${details.hash.slice(0, 12)}`
          )
        )
      : null,
    head && head !== details.hash
      ? button('Diff vs HEAD in notebook', () =>
          actions.openInNotebook(`%coral diffview ${details.hash.slice(0, 12)} HEAD`)
        )
      : null,
    head !== details.hash
      ? button('Check out', () => actions.checkout(details.hash), 'Detach HEAD at this commit')
      : null
  );
  return section(
    'Commit',
    'details',
    h('div', { class: 'coral-details-message' }, details.message),
    h(
      'dl',
      { class: 'coral-fields' },
      h('dt', {}, 'Hash'),
      h('dd', {}, h('code', {}, details.hash)),
      h('dt', {}, 'Author'),
      h('dd', {}, details.email ? `${details.author} <${details.email}>` : details.author),
      h('dt', {}, 'Date'),
      h('dd', {}, shortDate(details.time)),
      h('dt', {}, details.parents.length > 1 ? 'Parents' : 'Parent'),
      h('dd', {}, ...(parents.length ? parents : ['none (first commit)'])),
      details.branches.length ? h('dt', {}, 'Branches') : null,
      details.branches.length ? h('dd', {}, details.branches.join(', ')) : null,
      details.tags.length ? h('dt', {}, 'Tags') : null,
      details.tags.length ? h('dd', {}, details.tags.join(', ')) : null,
      Object.keys(metrics).length ? h('dt', {}, 'Metrics') : null,
      Object.keys(metrics).length ? h('dd', {}, metricsText(metrics)) : null
    ),
    h(
      'div',
      { class: 'coral-changes' },
      nameList('Added', changes.added),
      nameList('Modified', changes.modified),
      nameList('Removed', changes.removed),
      !changes.added.length && !changes.modified.length && !changes.removed.length
        ? h('div', { class: 'coral-muted' }, 'No tensor changes.')
        : null,
      h(
        'div',
        { class: 'coral-muted' },
        `${Object.keys(details.weights).length} tensors in this commit`
      )
    ),
    buttons,
    nameForm('Tag name', 'Tag this commit', 'Tag', name => actions.tag(name, details.hash))
  );
}
