package sqlite

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/service"
)

// TestReadyzWhenWritesFail: the server on this store answers /readyz 503
// as soon as the database stops taking writes, though it still answers
// reads, and 200 again when it takes them again.
func TestReadyzWhenWritesFail(t *testing.T) {
	db := open(t)
	sealer, err := jwt.NewSealer([]byte("a test secret of enough length"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(t.Context(), db, sealer, service.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{}))
	defer srv.Close()
	readyz := func() (int, string) {
		t.Helper()
		res, err := srv.Client().Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b))
	}
	if status, body := readyz(); status != http.StatusOK {
		t.Fatalf("/readyz = %d %s, want 200", status, body)
	}
	// The one write connection refuses writes from now on.
	if _, err := db.write.ExecContext(t.Context(), "PRAGMA query_only(1)"); err != nil {
		t.Fatal(err)
	}
	if status, body := readyz(); status != http.StatusServiceUnavailable || body != `{"message":"The database is unavailable."}` {
		t.Errorf(`/readyz once writes fail = %d %s, want 503 {"message":"The database is unavailable."}`, status, body)
	}
	if _, err := db.write.ExecContext(t.Context(), "PRAGMA query_only(0)"); err != nil {
		t.Fatal(err)
	}
	if status, body := readyz(); status != http.StatusOK {
		t.Errorf("/readyz once writes work again = %d %s, want 200", status, body)
	}
}

// TestPingWhenWritesFail: Ping says no as soon as writes fail, though
// reads still work; and says yes again when they work again.
func TestPingWhenWritesFail(t *testing.T) {
	db := open(t)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping() = %v, want nil", err)
	}
	// The one write connection refuses writes from now on.
	if _, err := db.write.ExecContext(t.Context(), "PRAGMA query_only(1)"); err != nil {
		t.Fatal(err)
	}
	err := db.Ping(t.Context())
	if want := "the database cannot be written"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Ping() once writes fail = %v, want an error saying %q", err, want)
	}
	if _, err := db.write.ExecContext(t.Context(), "PRAGMA query_only(0)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping() once writes work again = %v, want nil", err)
	}
}

// TestPingWritesNothing: Ping's write probe leaves the database and its
// journal byte for byte as they were.
func TestPingWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	// The store's checkpointer never ticks: a checkpoint of its own,
	// racing the one below, would leave pages to copy into the file
	// while Ping runs.
	db := openQuiet(t, path)
	if _, err := db.write.ExecContext(t.Context(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	files := func() [][]byte {
		var out [][]byte
		for _, p := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	before := files()
	for range 3 {
		if err := db.Ping(t.Context()); err != nil {
			t.Fatalf("Ping() = %v", err)
		}
	}
	for i, after := range files() {
		if !bytes.Equal(before[i], after) {
			t.Errorf("Ping() changed %s (%d bytes, was %d)", []string{"the database", "the WAL"}[i], len(after), len(before[i]))
		}
	}
}
