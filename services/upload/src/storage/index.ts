export {
  SLOT_ID,
  SizeMismatchError,
  hashedPath,
  type ByteRange,
  type FileStorage,
  type PutOutcome,
  type StoredFile,
} from './storage.js';
export { createLocalStorage, type LocalStorageOptions } from './local.js';
export { createS3Storage, type S3StorageOptions } from './s3.js';
