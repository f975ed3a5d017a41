// The sidebar's only channel to Coral: the server extension's JSON API under /coral/.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface Summary {
  found: boolean;
  directory: string;
  root?: string;
  branch?: string | null;
  head?: string | null;
  head_message?: string | null;
  branches?: number;
  tags?: number;
  staged?: { added: number; modified: number; removed: number };
  state?: string;
}

export interface BranchInfo {
  name: string;
  commit: string;
  current: boolean;
  parent_branch: string | null;
}

export interface TagInfo {
  name: string;
  commit: string;
  description: string | null;
  metrics: Record<string, number>;
  created_at: string | null;
}

export interface CommitLine {
  hash: string;
  short: string;
  message: string;
  author: string;
  time: string;
  parents: string[];
  merge: boolean;
}

/** One row of the lane layout that `git log --graph` would draw (see graph_layout.py). */
export interface GraphRow extends CommitLine {
  lane: number;
  incoming: [number, boolean][];
  outgoing: number[];
  width: number;
  refs: string[];
}

export interface CommitPage {
  total: number;
  offset: number;
  commits: GraphRow[];
}

export interface Changes {
  added: string[];
  removed: string[];
  modified: string[];
  summary: Record<string, number>;
}

export interface CommitDetails extends CommitLine {
  email: string | null;
  branches: string[];
  tags: string[];
  metrics: Record<string, Record<string, number>>;
  commit_metrics: Record<string, number>;
  merge: boolean;
  changes: Changes;
  weights: Record<string, { shape: number[]; dtype: string }>;
}

/** An error the server answered with: `status` is the HTTP code, `message` says what to do. */
export class CoralAPIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined>;

/** Call `/coral/<endpoint>`; a JSON body makes it a POST. */
export async function requestAPI<T>(
  endpoint: string,
  query: Query = {},
  body?: object
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) {
      params.set(key, String(value));
    }
  }
  const search = params.toString();
  const url = URLExt.join(settings.baseUrl, 'coral', endpoint) + (search ? `?${search}` : '');
  const init: RequestInit = body
    ? { method: 'POST', body: JSON.stringify(body) }
    : { method: 'GET' };
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new CoralAPIError(0, `cannot reach the Jupyter server: ${String(error)}`);
  }
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Tornado's own error pages are HTML: fall through to the status line below.
  }
  if (!response.ok) {
    const message =
      data && typeof data === 'object' && 'message' in data
        ? String((data as { message: unknown }).message)
        : `${response.status} ${response.statusText}`;
    throw new CoralAPIError(response.status, message);
  }
  return data as T;
}
