package httpapi

import (
	"maps"
	"net/url"
	"slices"

	"github.com/latchkey/latchkey/internal/wire"
)

// PageLink exposes pageLinker to the external tests.
func PageLink(path string, q url.Values, n int) string { return *pageLinker(path, q)(n) }

// LocalPath is localPath, for its fuzz target.
var LocalPath = localPath

// PageWindow exposes pageWindow to the external tests.
func PageWindow(page, last int) []int { return pageWindow(page, last) }

// Problem exposes problem, the contract's status and body for an error.
func Problem(err error) (int, wire.Problem) { return problem(err) }

// StatusTable exposes the codes the status table names.
func StatusTable() []string { return slices.Collect(maps.Keys(statuses)) }

// WriteJSON exposes writeJSON.
var WriteJSON = writeJSON

// InventoryLink exposes the inventory's page links: the URL of page n.
func InventoryLink(path string, q url.Values, iq InventoryQuery, n int) string {
	return *inventoryLinker(path, q, iq.Filter)(n)
}

// BearerChallenge exposes bearerChallenge, each param a name and a value.
func BearerChallenge(params [][2]string) string {
	var ps []authParam
	for _, p := range params {
		ps = append(ps, authParam{p[0], p[1]})
	}
	return bearerChallenge(ps)
}
