package httpapi

import "net/url"

// PageLink exposes pageLinker to the external tests.
func PageLink(path string, q url.Values, n int) string { return *pageLinker(path, q)(n) }

// LocalPath is localPath, for its fuzz target.
var LocalPath = localPath

// PageWindow exposes pageWindow to the external tests.
func PageWindow(page, last int) []int { return pageWindow(page, last) }
