/**
 * A package's gzipped tarball (npm's tarball, PyPI's source distribution) read as units: a unit a text
 * file (binary ones left out, by `textOf`), each linked to the release's page with its path in the
 * package, the archive's top folder left out (npm's `package/`, an sdist's `{name}-{version}/`).
 */
import { textOf } from './feed-http.js'
import { unitOf, type PublicUnit } from './source.js'
import { gzipTarFiles, TarError } from './tar-reader.js'

/** The release whose archive is read. */
export interface PackageRelease {
  /** `npm:{name}@{version}`: the units' repository, and their ids' prefix. */
  repo: string
  /** The release's public page. */
  page: string
  /** What the archive's paths start with that is not the package's own (`/^package\//`). */
  topFolder: RegExp
  published?: string | undefined
}

/**
 * The units of `archive`, or undefined when it does not unpack (a TarError: it arrived whole, reading it
 * again would not help). `maxBytes` bounds the archive unpacked, `maxFileBytes` a file kept.
 */
export function packageUnits(archive: Buffer, release: PackageRelease, limits: { maxBytes: number; maxFileBytes: number }): PublicUnit[] | undefined {
  let files
  try {
    files = gzipTarFiles(archive, limits)
  } catch (err) {
    if (!(err instanceof TarError)) throw err
    return undefined
  }
  const units: PublicUnit[] = []
  for (const file of files) {
    const text = file.data === undefined ? undefined : textOf(file.data)
    if (text === undefined) continue
    const path = file.path.replace(release.topFolder, '')
    units.push(unitOf(`${release.repo}:${path}`, text, { repo: release.repo, repoUrl: release.page, path, url: release.page }, release.published))
  }
  return units
}
