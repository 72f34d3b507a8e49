package bench

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// workloads are the workloads, in the order they run.
var workloads = []workload{
	{name: "show", expect: []int{http.StatusOK}, make: (*Fixture).show,
		target: func(r row) (string, bool) {
			return "≥60% of bare, p99 <5ms", r.ratio >= 0.60 && r.latchkey.P99 < 5*time.Millisecond
		}},
	{name: "list", expect: []int{http.StatusOK}, make: (*Fixture).list,
		target: func(r row) (string, bool) { return "≥40% of bare", r.ratio >= 0.40 }},
	{name: "create", expect: []int{http.StatusCreated}, make: (*Fixture).create,
		target: func(r row) (string, bool) { return "≥1000/s (SQLite)", r.latchkey.RPS >= 1000 }},
	{name: "mix", expect: []int{http.StatusOK, http.StatusCreated, http.StatusNoContent}, make: (*Fixture).mix},
	{name: "reject-malformed", expect: []int{http.StatusUnauthorized}, make: (*Fixture).rejectMalformed,
		target: func(r row) (string, bool) { return "≥60% of bare", r.ratio >= 0.60 }},
	{name: "reject-repeated", expect: []int{http.StatusUnauthorized}, make: (*Fixture).rejectRepeated,
		target: func(r row) (string, bool) { return "≥60% of bare", r.ratio >= 0.60 }},
	{name: "reject-forged", expect: []int{http.StatusUnauthorized}, make: (*Fixture).rejectForged},
}

// workload is one kind of traffic.
type workload struct {
	name   string
	expect []int // the real handler's answers; the bare one always says 200
	// make returns the requests of one run against base, and what to do
	// with their answers (nil: nothing). It is called afresh for each run,
	// so that state it keeps (tokens made, to revoke) is that run's.
	make   func(fx *Fixture, base string, concurrency int) (func(worker, n int) *http.Request, func(int, *http.Request, int, []byte))
	target func(row) (text string, met bool) // nil: no target
}

// Names lists the workloads' names, in the order they run.
func Names() []string {
	var names []string
	for _, w := range workloads {
		names = append(names, w.name)
	}
	return names
}

// pick returns the named workloads in the order they run; no names: all.
func pick(names []string) ([]workload, error) {
	if len(names) == 0 {
		return workloads, nil
	}
	want := map[string]bool{}
	for _, name := range names {
		want[name] = true
	}
	var out []workload
	for _, w := range workloads {
		if want[w.name] {
			out = append(out, w)
			delete(want, w.name)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for name := range want {
			unknown = append(unknown, strconv.Quote(name))
		}
		slices.Sort(unknown)
		return nil, fmt.Errorf("--workloads: unknown %s: want some of %s", strings.Join(unknown, ", "), strings.Join(Names(), ", "))
	}
	return out, nil
}

// The workloads' requests.

// newRequest makes a request, as a workload's generator must: it cannot
// fail for the URLs the workloads build.
func newRequest(method, url, auth, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		panic(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return req
}

func (fx *Fixture) tokensURL(base string, user int64) string {
	return base + "/api/1.0/users/" + strconv.FormatInt(user, 10) + "/tokens"
}

// showRequest is a show of one of listUser's tokens, a different one per
// request, as auth.
func (fx *Fixture) showRequest(base, auth string, worker, n int) *http.Request {
	id := fx.ListIDs[(worker*7919+n)%len(fx.ListIDs)]
	return newRequest(http.MethodGet, fx.tokensURL(base, fx.ListUser)+"/"+id, auth, "")
}

func (fx *Fixture) show(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	auth := "Bearer " + fx.ListJWT
	return func(worker, n int) *http.Request { return fx.showRequest(base, auth, worker, n) }, nil
}

func (fx *Fixture) list(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	url, auth := fx.tokensURL(base, fx.ListUser)+"?per_page=50", "Bearer "+fx.ListJWT
	return func(int, int) *http.Request { return newRequest(http.MethodGet, url, auth, "") }, nil
}

const createBody = `{"name":"bench"}`

func (fx *Fixture) create(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	url, auth := fx.tokensURL(base, fx.Writer), "Bearer "+fx.WriterJWT
	return func(int, int) *http.Request { return newRequest(http.MethodPost, url, auth, createBody) }, nil
}

// mix: of every 100 requests, on average, 1 revokes a token this worker
// made earlier in the run (a show when it has none left), 9 create one,
// 45 show and 45 list. Reads are listUser's, writes writer's, so that the
// list stays Tokens long.
func (fx *Fixture) mix(base string, concurrency int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	type state struct {
		rng  *rand.Rand
		made []string // ids of tokens this worker made, not yet revoked
	}
	states := make([]state, concurrency) // one per worker: no lock
	read := "Bearer " + fx.ListJWT
	write := "Bearer " + fx.WriterJWT
	listURL, writeURL := fx.tokensURL(base, fx.ListUser)+"?per_page=50", fx.tokensURL(base, fx.Writer)
	next := func(worker, n int) *http.Request {
		s := &states[worker]
		if s.rng == nil {
			s.rng = rand.New(rand.NewPCG(uint64(worker), 0x6c6174636b6579))
		}
		switch r := s.rng.IntN(100); {
		case r == 0 && len(s.made) > 0:
			id := s.made[len(s.made)-1]
			s.made = s.made[:len(s.made)-1]
			return newRequest(http.MethodDelete, writeURL+"/"+id, write, "")
		case r >= 1 && r < 10:
			return newRequest(http.MethodPost, writeURL, write, createBody)
		case r%2 == 1:
			return newRequest(http.MethodGet, listURL, read, "")
		default:
			return fx.showRequest(base, read, worker, n)
		}
	}
	observe := func(worker int, req *http.Request, status int, body []byte) {
		if req.Method != http.MethodPost || status != http.StatusCreated {
			return
		}
		var t struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &t) == nil && latchkey.ValidTokenID(t.ID) {
			states[worker].made = append(states[worker].made, t.ID)
		}
	}
	return next, observe
}

func (fx *Fixture) rejectMalformed(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	return func(worker, n int) *http.Request {
		return fx.showRequest(base, "Bearer this-is-not-a-token", worker, n)
	}, nil
}

func (fx *Fixture) rejectRepeated(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	auth := "Bearer " + fx.RevokedJWT
	return func(worker, n int) *http.Request { return fx.showRequest(base, auth, worker, n) }, nil
}

// rejectForged sends listJWT with the last 8 bytes of its signature, the
// least significant, XORed with a number no other request of the run uses:
// a signature that differs each time, still below the modulus, so that
// every request costs a whole RS256 verification and no cache can help.
// (This holds for RS256, the algorithm of the key a new database gets. The
// last bytes of an Ed25519 signature are the most significant of S, which
// crypto/ed25519 refuses before any curve arithmetic once S reaches the
// group order.)
func (fx *Fixture) rejectForged(base string, _ int) (func(int, int) *http.Request, func(int, *http.Request, int, []byte)) {
	return func(worker, n int) *http.Request {
		sig := slices.Clone(fx.forgeSig)
		x := uint64(worker)<<40 | uint64(n+1) // never 0: never the real signature
		for i := range 8 {
			sig[len(sig)-1-i] ^= byte(x >> (8 * i))
		}
		auth := "Bearer " + fx.forgePrefix + base64.RawURLEncoding.EncodeToString(sig)
		return fx.showRequest(base, auth, worker, n)
	}, nil
}
