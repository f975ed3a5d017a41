// Draws one commit row's lanes as a small SVG, from the rows the server lays out
// (coral/version_control/graph_layout.py), so the sidebar, the DAG widget and the
// notebook tables draw the same graph.
import { GraphRow } from './api';

const SVG = 'http://www.w3.org/2000/svg';
export const ROW_HEIGHT = 26;
const LANE_WIDTH = 12;
const MAX_LANES = 10; // wider histories are clipped; the DAG explorer shows them in full

// Readable on light and dark themes alike (checked against both JupyterLab themes).
const PALETTE = ['#2f7ed8', '#e4572e', '#17a589', '#a259c4', '#d4a017', '#d6336c', '#4c9a2a'];

export function laneColor(lane: number): string {
  return PALETTE[lane % PALETTE.length];
}

function x(lane: number): number {
  return LANE_WIDTH / 2 + lane * LANE_WIDTH;
}

function path(d: string, lane: number): SVGPathElement {
  const element = document.createElementNS(SVG, 'path');
  element.setAttribute('d', d);
  element.setAttribute('stroke', laneColor(lane));
  element.setAttribute('class', 'coral-lane');
  return element;
}

/** A line from (x1, y1) to (x2, y2), bending smoothly when it changes lane. */
function link(x1: number, y1: number, x2: number, y2: number): string {
  if (x1 === x2) {
    return `M${x1} ${y1}L${x2} ${y2}`;
  }
  const middle = (y1 + y2) / 2;
  return `M${x1} ${y1}C${x1} ${middle} ${x2} ${middle} ${x2} ${y2}`;
}

/** The lanes column shared by every row on the page (so the messages line up). */
export function graphWidth(rows: GraphRow[]): number {
  const lanes = Math.min(MAX_LANES, Math.max(1, ...rows.map(row => row.width)));
  return lanes * LANE_WIDTH;
}

export function renderLanes(row: GraphRow, width: number, isHead: boolean): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(ROW_HEIGHT));
  svg.setAttribute('aria-hidden', 'true');
  svg.classList.add('coral-lanes');
  const middle = ROW_HEIGHT / 2;
  for (const [lane, endsHere] of row.incoming) {
    svg.append(
      endsHere
        ? path(link(x(lane), 0, x(row.lane), middle), lane)
        : path(link(x(lane), 0, x(lane), ROW_HEIGHT), lane)
    );
  }
  for (const lane of row.outgoing) {
    svg.append(path(link(x(row.lane), middle, x(lane), ROW_HEIGHT), lane));
  }
  const dot = document.createElementNS(SVG, 'circle');
  dot.setAttribute('cx', String(x(row.lane)));
  dot.setAttribute('cy', String(middle));
  dot.setAttribute('r', row.merge ? '4.5' : '3.5');
  dot.setAttribute('stroke', laneColor(row.lane));
  dot.classList.add('coral-dot');
  if (row.merge) {
    dot.classList.add('coral-dot-merge');
  }
  if (isHead) {
    dot.classList.add('coral-dot-head');
  } else {
    dot.setAttribute('fill', laneColor(row.lane));
  }
  svg.append(dot);
  return svg;
}
