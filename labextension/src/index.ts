// JupyterLab plugin: adds the Coral sidebar (left area) and keeps it on the repository of
// the document in the main area, or else of the file browser's folder.
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { DocumentWidget } from '@jupyterlab/docregistry';

import coralSvg from '../style/coral.svg';
import { folderOf, insertAndRun } from './notebook';
import { CoralPanel } from './panel';

export const coralIcon = new LabIcon({ name: 'coral-jupyter:coral', svgstr: coralSvg });

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'coral-jupyter:sidebar',
  description: 'The Coral repository of the notebook you are working in.',
  autoStart: true,
  requires: [ILabShell, INotebookTracker],
  optional: [IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    shell: ILabShell,
    notebooks: INotebookTracker,
    browser: IDefaultFileBrowser | null
  ) => {
    const panel = new CoralPanel({ openInNotebook: code => insertAndRun(notebooks, code) });
    panel.title.icon = coralIcon;
    shell.add(panel, 'left', { rank: 650 });

    const follow = () => {
      const current = shell.currentWidget;
      if (current instanceof DocumentWidget) {
        panel.setFolder(folderOf(current.context.path));
      } else if (browser) {
        panel.setFolder(browser.model.path);
      }
    };
    shell.currentChanged.connect(follow);
    browser?.model.pathChanged.connect(follow);
    // A cell that ran may have committed, branched or tagged: look again soon after.
    NotebookActions.executed.connect(() => {
      if (panel.isVisible) {
        void panel.refresh(false);
      }
    });
    void app.restored.then(() => {
      void panel.handshake();
      follow();
    });
  }
};

export default plugin;
