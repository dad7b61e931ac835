// Error classes, one per kind of failure. Every message names the file/field/shape at fault
// and what was expected; the CLI prints `error: <message>` and exits with `exitCode`.

export class DistilleryError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A file that cannot be read or does not have the expected format (data, checkpoint, config). */
export class InputFileError extends DistilleryError {
  override readonly exitCode = 2;
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
  }
}

/** A bad option, config field or CLI flag. */
export class ConfigError extends DistilleryError {
  override readonly exitCode = 2;
}

/** Tensor shapes or sizes that do not fit together. */
export class ShapeError extends DistilleryError {
  override readonly exitCode = 2;
}

/** A backend that cannot be loaded or used on this machine. */
export class BackendUnavailableError extends DistilleryError {
  override readonly exitCode = 3;
  constructor(readonly backend: string, reason: string) {
    super(`backend '${backend}' is unavailable: ${reason}`);
  }
}

/** NaN/Inf in a loss, gradient or parameter. */
export class NumericalError extends DistilleryError {
  override readonly exitCode = 4;
}

/** A data-parallel worker that threw or died, twice in a row for one step. */
export class WorkerFailure extends DistilleryError {
  override readonly exitCode = 5;
}

/**
 * A file that cannot be written (disk full, read-only filesystem, no permission). The previous
 * version of the file, if any, is left as it was.
 */
export class OutputError extends DistilleryError {
  override readonly exitCode = 6;
  constructor(readonly file: string, readonly code: string | undefined, detail: string) {
    super(`${file}: ${detail}`);
  }
}

/** What an errno code means, for people. */
export function describeErrno(code: string | undefined): string {
  switch (code) {
    case 'ENOSPC': return 'no space left on the device (disk full)';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EROFS': return 'read-only filesystem';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOENT': return 'the folder does not exist';
    case 'ENOTDIR': return 'a part of the path is not a folder';
    case 'EISDIR': return 'it is a folder';
    default: return code ?? 'unknown error';
  }
}

/**
 * A run stopped by SIGINT (exit 130) or SIGTERM (exit 143) after writing its checkpoint: the
 * shell convention 128 + signal number.
 */
export class Interrupted extends DistilleryError {
  override readonly exitCode: number;
  constructor(readonly signal: 'SIGINT' | 'SIGTERM', message: string) {
    super(message);
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}
