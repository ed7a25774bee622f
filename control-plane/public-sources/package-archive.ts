/**
 * A package's archive read as units: npm's tarball and PyPI's source distribution (gzipped tar), and
 * PyPI's wheel (zip). A unit a text file (binary ones left out, by `textOf`), each linked to the
 * release's page with its path in the package, the archive's top folder left out (npm's `package/`,
 * an sdist's `{name}-{version}/`; a wheel has none). Both formats are bounded the same way (the archive
 * unpacked, a file kept) and fail the same way: an archive that does not unpack is undefined, never a
 * partial list, and the caller counts it and goes on.
 */
import { textOf } from './feed-http.js'
import { unitOf, type PublicUnit } from './source.js'
import { gzipTarFiles, TarError, type TarFile } from './tar-reader.js'
import { ZipError, zipFiles } from './zip-reader.js'

/** The release whose archive is read. */
export interface PackageRelease {
  /** `npm:{name}@{version}`: the units' repository, and their ids' prefix. */
  repo: string
  /** The release's public page. */
  page: string
  /** What the archive's paths start with that is not the package's own (`/^package\//`); none when omitted. */
  topFolder?: RegExp
  published?: string | undefined
}

/** How an archive is read and bounded. */
export interface ArchiveLimits {
  /** `tar.gz` (the default) or `zip` (a wheel). */
  format?: 'tar.gz' | 'zip'
  /** The archive unpacked, at most (a zip's declared sizes are checked before anything is inflated). */
  maxBytes: number
  /** A file larger than this is not scanned. */
  maxFileBytes: number
  /** A zip's entries, at most (default 10 000). */
  maxFiles?: number
}

/**
 * The units of `archive`, or undefined when it does not unpack or is refused by its limits (a TarError
 * or ZipError: it arrived whole, reading it again would not help).
 */
export function packageUnits(archive: Buffer, release: PackageRelease, limits: ArchiveLimits): PublicUnit[] | undefined {
  let files: TarFile[]
  try {
    files = limits.format === 'zip'
      ? zipFiles(archive, { maxBytes: limits.maxBytes, maxFileBytes: limits.maxFileBytes, ...(limits.maxFiles === undefined ? {} : { maxFiles: limits.maxFiles }) })
      : gzipTarFiles(archive, limits)
  } catch (err) {
    if (!(err instanceof TarError) && !(err instanceof ZipError)) throw err
    return undefined
  }
  const units: PublicUnit[] = []
  for (const file of files) {
    const text = file.data === undefined ? undefined : textOf(file.data)
    if (text === undefined) continue
    const path = release.topFolder === undefined ? file.path : file.path.replace(release.topFolder, '')
    units.push(unitOf(`${release.repo}:${path}`, text, { repo: release.repo, repoUrl: release.page, path, url: release.page }, release.published))
  }
  return units
}
