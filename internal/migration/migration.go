// Package migration reads a store's embedded, versioned schema migrations:
// files named NNNN_description.sql, applied in version order. Each store
// applies them its own way; what a migration is, and their order, is
// decided here once.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migration is one file of a migrations directory.
type Migration struct {
	Version int
	Name    string // the file name without .sql
	SQL     string
}

// Load returns the migrations in dir of fsys, by version ascending. Every
// name must start with a positive version number, and no two may share one.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries { // ReadDir sorts by name
		name := strings.TrimSuffix(e.Name(), ".sql")
		prefix, _, _ := strings.Cut(name, "_")
		version, err := strconv.Atoi(prefix)
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name does not start with a version number", e.Name())
		}
		if len(ms) > 0 && ms[len(ms)-1].Version >= version {
			return nil, fmt.Errorf("migration %s: version %d is not after the previous one", e.Name(), version)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: version, Name: name, SQL: string(b)})
	}
	return ms, nil
}
