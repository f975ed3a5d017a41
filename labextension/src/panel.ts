// The sidebar widget: holds what was last loaded, polls for changes, runs actions.
import { Widget } from '@lumino/widgets';

import {
  BranchInfo,
  CommitDetails,
  CommitPage,
  CoralAPIError,
  GraphRow,
  requestAPI,
  Summary,
  TagInfo
} from './api';
import { h } from './dom';
import { VERSION } from './version';
import * as views from './views';

const PAGE = 100;
const POLL_MS = 3000;

interface Loaded {
  summary: Summary;
  branches: BranchInfo[];
  tags: TagInfo[];
  rows: GraphRow[];
  total: number;
}

export interface PanelHooks {
  /** Insert and run a cell in the active notebook; false when there is none. */
  openInNotebook(code: string): Promise<boolean>;
}

function sameRepositoryState(a: Summary, b: Summary): boolean {
  return a.found === b.found && (a.found ? a.state === b.state : a.directory === b.directory);
}

/** What a re-render must not take from the user: focus, half-typed names, scroll position.
 * Elements are matched by their commit hash or their accessible label. */
function keepUserState(body: HTMLElement): { restore(): void } {
  const keyOf = (element: Element | null) =>
    element instanceof HTMLElement
      ? element.dataset.hash
        ? `[data-hash="${element.dataset.hash}"]`
        : element.getAttribute('aria-label')
          ? `[aria-label="${CSS.escape(element.getAttribute('aria-label')!)}"]`
          : null
      : null;
  const focused = body.contains(document.activeElement) ? keyOf(document.activeElement) : null;
  const typed = Array.from(body.querySelectorAll('input'))
    .filter(input => input.value)
    .map(input => [keyOf(input), input.value] as const);
  const scroll = body.scrollTop;
  return {
    restore() {
      for (const [key, value] of typed) {
        const input = key ? body.querySelector<HTMLInputElement>(`input${key}`) : null;
        if (input) {
          input.value = value;
        }
      }
      body.scrollTop = scroll;
      if (focused) {
        body.querySelector<HTMLElement>(focused)?.focus();
      }
    }
  };
}

export class CoralPanel extends Widget {
  private folder = '';
  private loaded: Loaded | null = null;
  private selected: string | null = null;
  private details: CommitDetails | null = null;
  private busy = false;
  private pending: boolean | null = null; // a refresh asked for while one was running
  private banner: HTMLElement;
  private status: HTMLElement;
  private body: HTMLElement;
  private timer = 0;

  constructor(private readonly hooks: PanelHooks) {
    super();
    this.id = 'coral-sidebar';
    this.addClass('coral-panel');
    this.title.caption = 'Coral: weight versions';
    const heading = h('h2', { class: 'coral-title' }, 'Coral');
    const refresh = h(
      'button',
      {
        class: 'jp-mod-styled coral-button coral-refresh',
        type: 'button',
        'aria-label': 'Refresh',
        title: 'Refresh',
        onclick: () => void this.refresh(true)
      },
      '⟳'
    );
    this.banner = h('div', { class: 'coral-banner', role: 'alert' });
    this.status = h('div', { class: 'coral-status', role: 'status', 'aria-live': 'polite' });
    this.body = h('div', { class: 'coral-body' });
    this.node.append(
      h('header', { class: 'coral-header' }, heading, refresh),
      this.banner,
      this.status,
      this.body
    );
    this.timer = window.setInterval(() => {
      if (this.isVisible && !document.hidden) {
        void this.refresh(false);
      }
    }, POLL_MS);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  /** The front end and the server extension must come from the same install. */
  async handshake(): Promise<void> {
    try {
      const server = await requestAPI<{ version: string }>('version');
      if (server.version !== VERSION) {
        this.setBanner(
          `The Coral front end (${VERSION}) and server extension (${server.version}) do not match. ` +
            'Restart JupyterLab; if this stays, reinstall coral with pip in the environment that runs it.'
        );
      }
    } catch (error) {
      const missing = error instanceof CoralAPIError && error.status === 404;
      this.setBanner(
        missing
          ? 'The Coral server extension is not running. Run ' +
              '"jupyter server extension enable coral_jupyter" and restart JupyterLab.'
          : `Cannot reach the Coral server extension: ${(error as Error).message}`
      );
    }
  }

  /** Show the repository of `folder` (relative to the server root). */
  setFolder(folder: string): void {
    if (folder === this.folder && this.loaded) {
      return;
    }
    this.folder = folder;
    this.loaded = null;
    if (this.isVisible) {
      void this.refresh(true);
    } // else onAfterShow loads it: a hidden panel costs the server nothing
  }

  protected onAfterShow(): void {
    void this.refresh(true);
  }

  /** Reload everything when the repository changed (or when forced). A call made while a
   * refresh is running is kept and runs right after it, so no action's result is missed. */
  async refresh(force: boolean): Promise<void> {
    if (this.busy) {
      this.pending = (this.pending ?? false) || force;
      return;
    }
    this.busy = true;
    try {
      const summary = await requestAPI<Summary>('repo', { path: this.folder });
      const previous = this.loaded?.summary;
      if (!force && previous && sameRepositoryState(summary, previous)) {
        return;
      }
      if (!summary.found || (previous && previous.root !== summary.root)) {
        this.selected = null; // another repository: its commits are not the selected one
      }
      this.loaded = summary.found
        ? await this.load(summary)
        : { summary, branches: [], tags: [], rows: [], total: 0 };
      this.details = this.selected ? await this.detailsOrNothing(this.selected) : null;
      this.render();
    } catch (error) {
      this.showError(error);
    } finally {
      this.busy = false;
      const again = this.pending;
      this.pending = null;
      if (again !== null) {
        void this.refresh(again);
      }
    }
  }

  /** The selected commit's details, fresh (a tag may have been added); none if it is gone. */
  private async detailsOrNothing(hash: string): Promise<CommitDetails | null> {
    try {
      return await this.fetchDetails(hash);
    } catch (error) {
      if (error instanceof CoralAPIError && error.status === 404) {
        this.selected = null;
        return null;
      }
      throw error;
    }
  }

  private async load(summary: Summary): Promise<Loaded> {
    const path = this.folder;
    const shown = Math.max(PAGE, this.loaded?.rows.length ?? 0);
    const [branches, tags, page] = await Promise.all([
      requestAPI<BranchInfo[]>('branches', { path }),
      requestAPI<TagInfo[]>('tags', { path }),
      requestAPI<CommitPage>('commits', { path, offset: 0, limit: Math.min(shown, 500) })
    ]);
    return { summary, branches, tags, rows: page.commits, total: page.total };
  }

  private fetchDetails(ref: string): Promise<CommitDetails> {
    return requestAPI<CommitDetails>('commit', { path: this.folder, ref });
  }

  private render(): void {
    const loaded = this.loaded;
    if (!loaded) {
      return;
    }
    const kept = keepUserState(this.body);
    this.body.replaceChildren();
    const { summary } = loaded;
    if (!summary.found) {
      this.body.append(views.noRepository(summary, this.actions));
      kept.restore();
      return;
    }
    const head = summary.head ?? null;
    this.body.append(
      views.summaryView(summary, loaded.total),
      views.branchesView(loaded.branches, this.selected, this.actions),
      views.historyView(loaded.rows, loaded.total, head, this.selected, this.actions),
      views.tagsView(loaded.tags, this.actions),
      this.details ? views.detailsView(this.details, head, this.actions) : ''
    );
    kept.restore();
  }

  private readonly actions: views.Actions = {
    init: () => this.act('init', { path: this.folder }, () => 'Created a Coral repository here.'),
    checkout: ref =>
      this.act(
        'checkout',
        { path: this.folder, ref },
        (result: { branch: string | null; head: string }) =>
          result.branch
            ? `Switched to branch ${result.branch}.`
            : `HEAD is now at ${result.head.slice(0, 8)}.`
      ),
    createBranch: (name, from) =>
      this.act(
        'branch',
        { path: this.folder, name, from: from ?? undefined },
        () => `Created branch ${name}.`
      ),
    tag: (name, ref) =>
      this.act(
        'tag',
        { path: this.folder, name, ref },
        () => `Tagged ${ref.slice(0, 8)} as ${name}.`
      ),
    select: hash => void this.select(hash),
    loadMore: () => void this.loadMore(),
    openInNotebook: code => void this.openInNotebook(code)
  };

  private async act<T>(endpoint: string, body: object, done: (result: T) => string): Promise<void> {
    try {
      const result = await requestAPI<T>(endpoint, {}, body);
      this.setStatus(done(result));
      // Done: the names typed for it are used up (a failed action keeps them to fix).
      this.body.querySelectorAll('input').forEach(input => (input.value = ''));
      await this.refresh(true);
    } catch (error) {
      this.showError(error);
    }
  }

  private async select(hash: string): Promise<void> {
    this.selected = hash;
    try {
      this.details = await this.fetchDetails(hash);
    } catch (error) {
      this.details = null;
      this.showError(error);
    }
    this.render();
    this.body.querySelector<HTMLElement>(`.coral-history [data-hash="${hash}"]`)?.focus();
  }

  private async loadMore(): Promise<void> {
    const loaded = this.loaded;
    if (!loaded) {
      return;
    }
    try {
      const page = await requestAPI<CommitPage>('commits', {
        path: this.folder,
        offset: loaded.rows.length,
        limit: PAGE
      });
      loaded.rows = loaded.rows.concat(page.commits);
      loaded.total = page.total;
      this.render();
    } catch (error) {
      this.showError(error);
    }
  }

  private async openInNotebook(code: string): Promise<void> {
    try {
      const inserted = await this.hooks.openInNotebook(code);
      this.setStatus(
        inserted
          ? `Ran ${code} in the notebook.`
          : `Open a notebook first, then try again (${code}).`
      );
    } catch (error) {
      this.showError(error);
    }
  }

  private setBanner(text: string): void {
    this.banner.textContent = text;
    this.banner.classList.toggle('coral-visible', Boolean(text));
  }

  private setStatus(text: string): void {
    this.status.classList.remove('coral-error');
    this.status.textContent = text;
  }

  private showError(error: unknown): void {
    this.status.classList.add('coral-error');
    this.status.textContent = error instanceof Error ? error.message : String(error);
  }
}
