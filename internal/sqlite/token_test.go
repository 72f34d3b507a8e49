package sqlite

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/storetest"
)

// TestTokensPersonalClients checks the personal filter of Tokens, which
// compares with the id of the personal access client when there is only
// one, as the personal access clients change: another one, none, one
// again.
func TestTokensPersonalClients(t *testing.T) {
	db := open(t)
	storetest.TokensPersonalClients(t, db, func(personal bool, ids ...int64) {
		t.Helper()
		for _, id := range ids {
			if _, err := db.write.ExecContext(t.Context(),
				`UPDATE oauth_clients SET personal_access_client = ? WHERE id = ?`, personal, id); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestParseTime checks that parseTime agrees with time.Parse.
func TestParseTime(t *testing.T) {
	start := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100_000 {
		tm := start.AddDate(0, 0, i*36).Add(time.Duration(i) * 7919 * time.Millisecond).Add(time.Duration(i) * time.Microsecond)
		s := formatTime(tm)
		got, ok := parseTime(s)
		want, err := time.Parse(timeLayout, s)
		if !ok || err != nil || got != want.UTC() {
			t.Fatalf("parseTime(%q) = %v, %t; time.Parse = %v, %v", s, got, ok, want, err)
		}
	}
	for _, s := range []string{
		"2024-02-29T23:59:59.999999Z", "0000-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z",
		// time.Parse refuses these.
		"2024-02-30T00:00:00.000000Z", "2023-02-29T00:00:00.000000Z", "2024-13-01T00:00:00.000000Z",
		"2024-00-01T00:00:00.000000Z", "2024-01-00T00:00:00.000000Z", "2024-01-01T24:00:00.000000Z",
		"2024-01-01T23:60:00.000000Z", "2024-01-01T23:59:60.000000Z", "+024-01-01T00:00:00.000000Z",
		"2024-01-01T00:00:00.00000aZ", "2024-01-01T00:00:00.000000", "2024-01-01 00:00:00.000000Z",
		"2024-01-01T0:00:00.0000000Z", "2024-01-01T-1:00:00.000000Z", "",
	} {
		got, ok := parseTime(s)
		want, err := time.Parse(timeLayout, s)
		if ok != (err == nil) || ok && got != want.UTC() {
			t.Errorf("parseTime(%q) = %v, %t; time.Parse = %v, %v", s, got, ok, want, err)
		}
	}
}
