/** Model management for every local provider: Ollama pulls and deletes, GGUF downloads for kind `embedded`. */
export { ModelError, isModelError, type ModelErrorKind } from './errors';
export {
  listOllamaModels,
  pullOllamaModel,
  deleteOllamaModel,
  findOllamaExecutable,
  type OllamaModel,
  type OllamaTarget,
  type PullProgress,
} from './ollama';
export {
  downloadGguf,
  diskFreeBytes,
  displayUrl,
  ggufFileName,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
} from './gguf';
export { deleteLocalModel, listLocalModels, listPartialDownloads, formatBytes, type LocalModel } from './modelsFolder';
