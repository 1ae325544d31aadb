/** Model management for every local provider: Ollama pulls and deletes, GGUF downloads for kind `embedded`. */
export { ModelError, isModelError, type ModelErrorKind } from './errors';
export { listOllamaModels, pullOllamaModel, deleteOllamaModel, findOllamaExecutable, type OllamaModel, type OllamaTarget, type PullProgress } from './ollama';
export {
  downloadGguf,
  deleteLocalModel,
  listLocalModels,
  listPartialDownloads,
  diskFreeBytes,
  displayUrl,
  formatBytes,
  ggufFileName,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  type LocalModel,
} from './gguf';
