// SVG and PNG export of the whole diagram, as React Flow's download-image example does it: the
// viewport element drawn by html-to-image with a transform that fits every node.
import { getNodesBounds, getViewportForBounds, type Node } from '@xyflow/react';
import { toPng, toSvg } from 'html-to-image';

export type ImageFormat = 'svg' | 'png';
/** Large schemas are scaled down to keep the image within what browsers will encode. */
const MAX_SIDE = 8000;
const PADDING = 0.02;

export async function exportDiagram(viewport: HTMLElement, nodes: Node[], format: ImageFormat, fileName: string) {
  const bounds = getNodesBounds(nodes);
  const scale = Math.min(1, MAX_SIDE / bounds.width, MAX_SIDE / bounds.height);
  const width = Math.ceil(bounds.width * scale * (1 + 2 * PADDING));
  const height = Math.ceil(bounds.height * scale * (1 + 2 * PADDING));
  const fit = getViewportForBounds(bounds, width, height, 0.001, 2, PADDING);
  const options = {
    // The page's own background, so the image matches the theme it was taken in.
    backgroundColor: getComputedStyle(document.body).backgroundColor,
    width,
    height,
    style: {
      width: `${width}px`,
      height: `${height}px`,
      transform: `translate(${fit.x}px, ${fit.y}px) scale(${fit.zoom})`,
    },
  };
  const dataUrl = format === 'svg' ? await toSvg(viewport, options) : await toPng(viewport, options);
  const link = document.createElement('a');
  link.download = `${fileName}.${format}`;
  link.href = dataUrl;
  link.click();
}
