/** Inline completions (issue 15), the core part: templates, context, post-processing, cache, scheduler. */
export * from './templates';
export * from './context';
export * from './postprocess';
export * from './cache';
export * from './scheduler';
export * from './completer';
export * from './service';
