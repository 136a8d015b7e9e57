import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Readable, Transform, pipeline } from 'node:stream';
import {
  SizeMismatchError,
  assertSlotId,
  hashedPath,
  type ByteRange,
  type FileStorage,
  type PutOutcome,
  type StoredFile,
} from './storage.js';

export interface S3StorageOptions {
  readonly bucket: string;
  readonly endpoint?: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly forcePathStyle: boolean;
  /** Key prefix inside the bucket ('' for none). */
  readonly prefix: string;
}

/**
 * Uploads as objects `<prefix><aa>/<slotId>` in an S3-compatible bucket,
 * with the file's name, owner and creation time in user metadata. Bodies
 * stream through with their Content-Length (no buffering, no multipart).
 */
export function createS3Storage(options: S3StorageOptions): FileStorage {
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    // Default CRC32 checksums turn a streamed body into aws-chunked encoding with a trailer,
    // which many S3-compatible servers reject: checksum only where the operation requires it.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = options.bucket;
  const keyOf = (slotId: string): string => {
    assertSlotId(slotId);
    return `${options.prefix}${hashedPath(slotId)[0]}/${slotId}`;
  };

  async function stat(slotId: string): Promise<StoredFile | null> {
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket, Key: keyOf(slotId) }));
      const meta = head.Metadata ?? {};
      if (!isComplete(meta, head.ContentLength)) return null;
      return {
        slotId,
        filename: decodeURIComponent(meta['filename'] ?? slotId),
        contentType: head.ContentType ?? 'application/octet-stream',
        size: head.ContentLength ?? 0,
        owner: decodeURIComponent(meta['owner'] ?? ''),
        createdAt: new Date(Number(meta['created-at'] ?? head.LastModified?.getTime() ?? 0)),
      };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  return {
    kind: 's3',
    stat,
    async put(file: StoredFile, body: Readable): Promise<PutOutcome> {
      if ((await stat(file.slotId)) !== null) {
        body.resume();
        return 'exists';
      }
      // The SDK pipes the body into the request without watching it: meter it here, and abort the
      // request when the body fails or its length is wrong, so the server never completes a short object.
      const abort = new AbortController();
      let received = 0;
      const metered = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          received += chunk.length;
          if (received > file.size) callback(new SizeMismatchError(file.size, received));
          else callback(null, chunk);
        },
        flush(callback) {
          callback(received === file.size ? null : new SizeMismatchError(file.size, received));
        },
      });
      let failure: Error | undefined;
      const flowed = new Promise<void>((resolve) => {
        pipeline(body, metered, (error) => {
          if (error !== null && error !== undefined) {
            failure = error;
            abort.abort(error);
          }
          resolve();
        });
      });
      try {
        await client.send(
          new PutObjectCommand({
            Bucket,
            Key: keyOf(file.slotId),
            Body: metered,
            ContentLength: file.size,
            ContentType: file.contentType,
            // S3 user metadata is ASCII: names and JIDs are percent-encoded.
            Metadata: {
              filename: encodeURIComponent(file.filename),
              owner: encodeURIComponent(file.owner),
              'created-at': String(file.createdAt.getTime()),
              size: String(file.size),
            },
            // Write-once where the server supports conditional writes (AWS S3, MinIO): a racing PUT gets 412.
            IfNoneMatch: '*',
          }),
          { abortSignal: abort.signal },
        );
      } catch (error) {
        if (failure !== undefined) {
          // A fragment some servers keep is invisible (isComplete) and goes with the retention sweep.
          throw failure;
        }
        metered.destroy();
        if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 412) return 'exists';
        throw error;
      }
      await flowed;
      if (failure !== undefined) {
        await client.send(new DeleteObjectCommand({ Bucket, Key: keyOf(file.slotId) }));
        throw failure;
      }
      return 'stored';
    },
    async read(slotId: string, range?: ByteRange): Promise<Readable | null> {
      try {
        const object = await client.send(
          new GetObjectCommand({
            Bucket,
            Key: keyOf(slotId),
            ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }),
          }),
        );
        const stream = object.Body;
        if (stream === undefined) return null;
        const total =
          object.ContentRange === undefined
            ? object.ContentLength
            : Number(object.ContentRange.split('/')[1]);
        if (!isComplete(object.Metadata ?? {}, total)) {
          if (stream instanceof Readable) stream.destroy();
          return null;
        }
        return stream instanceof Readable ? stream : Readable.fromWeb(stream.transformToWebStream() as never);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    async delete(slotId: string): Promise<boolean> {
      if ((await stat(slotId)) === null) return false;
      await client.send(new DeleteObjectCommand({ Bucket, Key: keyOf(slotId) }));
      return true;
    },
    async deleteOlderThan(cutoff: Date): Promise<number> {
      let deleted = 0;
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket,
            Prefix: options.prefix,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined || object.LastModified === undefined) continue;
          if (object.LastModified >= cutoff) continue;
          // One DeleteObject per key: DeleteObjects needs Content-MD5, which not every S3-compatible server takes.
          await client.send(new DeleteObjectCommand({ Bucket, Key: object.Key }));
          deleted += 1;
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return deleted;
    },
    close() {
      client.destroy();
      return Promise.resolve();
    },
  };
}

/**
 * Whether an object holds every byte its upload promised (its `size` metadata). S3 itself never keeps
 * a partial body, but some compatible servers keep what arrived before a client went away, without
 * metadata or short: such a fragment counts as absent until the retention sweep removes it.
 */
function isComplete(meta: Record<string, string>, length: number | undefined): boolean {
  return meta['size'] !== undefined && Number(meta['size']) === length;
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.$metadata.httpStatusCode === 404 || error.name === 'NotFound' || error.name === 'NoSuchKey')
  );
}
