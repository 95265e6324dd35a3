/**
 * `@press-cloud/sdk/node`: the Node-only helpers (file system). The main entry point stays runtime-neutral
 * (`fetch` and Web Crypto only); its `deployDirectory` and `download({to})` load these lazily.
 */
export { deployDirectory, findDeployBySlug } from './deploy-directory.js';
export type { DeployDirectoryOptions, DeployDirectoryResult, DeployProgress, DeployTarget } from './deploy-directory.js';
export { hashFile, isIgnoredByDefault, listFiles } from './files.js';
export type { ListOptions, LocalFile } from './files.js';
export { writeStreamToFile } from './write-file.js';
