// "Open in notebook": put a %coral cell into the active notebook and run it.
import { NotebookActions, INotebookTracker } from '@jupyterlab/notebook';

// Loads the magics without the "already loaded" notice a second %load_ext would print.
const LOAD_MAGICS = "get_ipython().extension_manager.load_extension('coral_jupyter')";

/** Insert `code` as a new cell below the active one and run it. Returns false (and changes
 * nothing) when there is no notebook to put it in. */
export async function insertAndRun(tracker: INotebookTracker, code: string): Promise<boolean> {
  const panel = tracker.currentWidget;
  if (!panel) {
    return false;
  }
  await panel.context.ready;
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session?.kernel;
  if (kernel) {
    await kernel.requestExecute({ code: LOAD_MAGICS, silent: true, store_history: false }).done;
  }
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  const cell = notebook.activeCell;
  if (!cell) {
    return false;
  }
  cell.model.sharedModel.setSource(code);
  await NotebookActions.run(notebook, panel.sessionContext);
  return true;
}

/** The folder of the notebook (or any document) in the main area, if there is one. */
export function folderOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}
