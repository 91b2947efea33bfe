import type { ReactFlowState } from '@xyflow/react';

/** Below this zoom column rows and edge labels are unreadable: they are not drawn, which keeps a
 *  whole large schema light enough to pan smoothly. */
export const DETAIL_FROM_ZOOM = 0.45;
export const zoomedOut = (state: ReactFlowState) => state.transform[2] < DETAIL_FROM_ZOOM;
