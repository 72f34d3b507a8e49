package notify_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/mailtest"
	"github.com/latchkey/latchkey/internal/notify"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlite"
	"github.com/latchkey/latchkey/internal/sqlitetest"
	"github.com/latchkey/latchkey/internal/webhook"
)

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// world is a service on a real SQLite database, a real SMTP server and a
// real webhook receiver, on one clock.
type world struct {
	svc  *service.Service
	st   *sqlite.DB
	clk  *clock
	smtp *mailtest.Server
	hook *receiver
	obs  *counts
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{st: sqlitetest.Open(t), clk: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, obs: &counts{m: map[string]int{}}}
	sealer, err := jwt.NewSealer([]byte("notify test secret, long enough!"))
	if err != nil {
		t.Fatal(err)
	}
	w.svc, err = service.New(t.Context(), w.st, sealer, service.Config{Now: w.clk.Now,
		Password: &password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	w.smtp = mailtest.Start(t)
	w.hook = newReceiver(t, w.clk)
	return w
}

// notifier is a server's outbox runner in w.
func (w *world) notifier(t *testing.T, server string) *notify.Notifier {
	t.Helper()
	return w.notifierWith(t, server, 0)
}

// notifierWith is notifier taking batch notifications or deliveries at a
// time (0: the default).
func (w *world) notifierWith(t *testing.T, server string, batch int) *notify.Notifier {
	t.Helper()
	m, err := mail.New("smtp://"+w.smtp.Addr, "Latchkey <tokens@example.com>", mail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return notify.New(notify.Options{Store: w.st, Mailer: m, Sender: &webhook.Sender{AllowPrivate: true, Timeout: 5 * time.Second},
		Opener: w.svc.OpenWebhookSecret, PublicURL: "https://tokens.example.com", Server: server, Clock: w.clk.Now, Obs: w.obs,
		Log: slog.New(slog.NewTextHandler(t.Output(), nil)), Batch: batch})
}

// user makes a user called name, with an address at example.com.
func (w *world) user(t *testing.T, name string) *latchkey.User {
	t.Helper()
	u, err := w.svc.CreateUser(t.Context(), service.NewUser{Username: name, Email: name + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// register registers the receiver for events.
func (w *world) register(t *testing.T, events ...latchkey.NotificationType) *latchkey.Webhook {
	t.Helper()
	h, secret, err := w.svc.CreateWebhook(t.Context(), service.NewWebhook{URL: w.hook.srv.URL + "/hook", Events: events, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.hook.key, err = webhook.ParseSecret(secret); err != nil {
		t.Fatal(err)
	}
	return h
}

// run fans out and delivers until nothing is due.
func run(t *testing.T, n *notify.Notifier) {
	t.Helper()
	if _, err := n.FanOut(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Deliver(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// counts is an Observer.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) Delivered(kind, outcome string) {
	c.mu.Lock()
	c.m[kind+" "+outcome]++
	c.mu.Unlock()
}

func (c *counts) get(k string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.m[k] }

// receiver is a webhook endpoint that checks each signature as Standard
// Webhooks says a receiver must.
type receiver struct {
	srv    *httptest.Server
	key    []byte
	clk    *clock
	status atomic.Int32
	mu     sync.Mutex
	got    []post
	// arrived has a value for each post, as it comes.
	arrived chan struct{}
}

type post struct {
	ID        string
	Body      notify.Message
	Raw       string
	VerifyErr error
}

func newReceiver(t *testing.T, clk *clock) *receiver {
	r := &receiver{clk: clk, arrived: make(chan struct{}, 1024)}
	r.status.Store(http.StatusNoContent)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		p := post{ID: req.Header.Get("webhook-id"), Raw: string(b)}
		p.VerifyErr = webhook.Verify(r.key, req.Header, b, r.clk.Now(), 5*time.Minute)
		if err := json.Unmarshal(b, &p.Body); err != nil && p.VerifyErr == nil {
			p.VerifyErr = err
		}
		r.mu.Lock()
		r.got = append(r.got, p)
		r.mu.Unlock()
		r.arrived <- struct{}{}
		w.WriteHeader(int(r.status.Load()))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) posts() []post {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]post(nil), r.got...)
}

// mails takes the messages the SMTP server has now.
func mails(s *mailtest.Server) []mailtest.Message {
	var out []mailtest.Message
	for {
		select {
		case m := <-s.Messages:
			out = append(out, m)
		default:
			return out
		}
	}
}

func TestAdministratorRevokes(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.register(t, latchkey.NoteTokenRevoked)
	alice := w.user(t, "alice")
	admin, err := w.svc.CreateUser(ctx, service.NewUser{Username: "root", Email: "root@example.com", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := w.svc.CreateToken(ctx, &latchkey.Principal{User: alice}, alice, service.TokenRequest{Name: named("deploy")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RevokeToken(ctx, &latchkey.Principal{User: admin}, alice, tok.ID); err != nil {
		t.Fatal(err)
	}
	n := w.notifier(t, "a")
	if c, err := n.FanOut(ctx); c != 1 || err != nil {
		t.Fatalf("FanOut = %d, %v; want the one revocation", c, err)
	}
	if c, err := n.Deliver(ctx); c != 2 || err != nil {
		t.Fatalf("Deliver = %d, %v; want its mail and its webhook", c, err)
	}

	got := mails(w.smtp)
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1 (alice made the token herself in the web pages: no mail for it)", len(got))
	}
	m := got[0]
	if m.ParseErr != nil {
		t.Fatal(m.ParseErr)
	}
	if len(m.To) != 1 || m.To[0] != "alice@example.com" {
		t.Errorf("mail to %v", m.To)
	}
	if m.Subject != `Your token "deploy" was revoked` {
		t.Errorf("subject %q", m.Subject)
	}
	link := "https://tokens.example.com/tokens#token-" + tok.ID
	for part, text := range map[string]string{"text": m.Text, "html": m.HTML} {
		if !strings.Contains(text, "revoked by root") || !strings.Contains(text, "Someone allowed to manage your tokens revoked it.") || !strings.Contains(text, link) {
			t.Errorf("the %s part does not say who revoked it, why, and where to see it:\n%s", part, text)
		}
	}
	if strings.Contains(string(m.Raw), secret) || strings.Contains(string(m.Raw), strings.Split(secret, ".")[2]) {
		t.Error("the mail holds the token's secret")
	}
	if !strings.Contains(m.HTML, `<a href="`+link+`">`) {
		t.Errorf("the html part has no link:\n%s", m.HTML)
	}

	posts := w.hook.posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1 (the webhook takes token.revoked only)", len(posts))
	}
	p := posts[0]
	if p.VerifyErr != nil {
		t.Fatalf("the signature does not verify: %v", p.VerifyErr)
	}
	d := p.Body.Data
	if p.Body.Type != latchkey.NoteTokenRevoked || d.TokenID != tok.ID || d.TokenName != "deploy" || d.UserID != alice.ID ||
		d.Username != "alice" || d.Reason != "admin" || d.Actor.Type != latchkey.ActorUser || d.Actor.Username != "root" || d.URL != link {
		t.Errorf("body %s", p.Raw)
	}
	if !p.Body.Timestamp.Equal(w.clk.Now()) {
		t.Errorf("timestamp %v, want %v", p.Body.Timestamp, w.clk.Now())
	}
	if strings.Contains(p.Raw, secret) {
		t.Error("the body holds the token's secret")
	}
	if w.obs.get("mail delivered") != 1 || w.obs.get("webhook delivered") != 1 {
		t.Errorf("counted %v", w.obs.m)
	}
	// Delivered once: nothing is due again.
	if c, err := n.Deliver(ctx); err != nil || c != 0 {
		t.Errorf("Deliver again = %d, %v", c, err)
	}
}

func TestOwnerHearsNothingOfWhatTheyDid(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.register(t)
	alice := w.user(t, "alice")
	p := &latchkey.Principal{User: alice}
	tok, _, err := w.svc.CreateToken(ctx, p, alice, service.TokenRequest{Name: named("mine")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RevokeToken(ctx, p, alice, tok.ID); err != nil {
		t.Fatal(err)
	}
	run(t, w.notifier(t, "a"))
	if got := mails(w.smtp); len(got) != 0 {
		t.Errorf("%d mails of what alice did herself", len(got))
	}
	if got := w.hook.posts(); len(got) != 0 {
		t.Errorf("%d posts of what alice did herself", len(got))
	}
}

func TestMailChoices(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	alice := w.user(t, "alice")
	p := &latchkey.Principal{User: alice}
	// Alice wants no mail of tokens made for her, and tries to turn off
	// revocations too: a security notice, which stays on.
	if err := w.svc.SetMailOff(ctx, p, []latchkey.NotificationType{latchkey.NoteTokenCreated, latchkey.NoteTokenRevoked}); err != nil {
		t.Fatal(err)
	}
	off, err := w.svc.MailOff(ctx, p)
	if err != nil || len(off) != 1 || off[0] != latchkey.NoteTokenCreated {
		t.Fatalf("MailOff = %v, %v", off, err)
	}
	tok, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named("ci")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.OperatorRevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	run(t, w.notifier(t, "a"))
	got := mails(w.smtp)
	if len(got) != 1 || !strings.Contains(got[0].Subject, "was revoked") {
		var subjects []string
		for _, m := range got {
			subjects = append(subjects, m.Subject)
		}
		t.Errorf("mails %q, want the revocation only", subjects)
	}
}

func TestRetriedThenFailed(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	h := w.register(t)
	alice := w.user(t, "alice")
	w.hook.status.Store(http.StatusInternalServerError)
	if _, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named("ci")}); err != nil {
		t.Fatal(err)
	}
	n := w.notifier(t, "a")
	run(t, n)
	if got := len(w.hook.posts()); got != 1 {
		t.Fatalf("%d posts, want 1", got)
	}
	ds, err := w.svc.Deliveries(ctx, h.ID, 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Deliveries = %v, %v", ds, err)
	}
	d := ds[0]
	if d.State != latchkey.DeliveryPending || d.Attempts != 1 || d.LastStatus != 500 || d.LastError == "" ||
		!d.NextAt.Equal(w.clk.Now().Add(notify.Backoff(1))) {
		t.Fatalf("after a 500: %+v", d)
	}
	// Not due before its backoff.
	w.clk.Advance(notify.Backoff(1) - time.Second)
	if c, _ := n.Deliver(ctx); c != 0 {
		t.Errorf("tried again %d before its time", c)
	}
	w.clk.Advance(time.Second)
	if c, err := n.Deliver(ctx); c != 1 || err != nil {
		t.Fatalf("Deliver after the backoff = %d, %v", c, err)
	}
	// The second failure waits twice as long.
	if ds, _ = w.svc.Deliveries(ctx, h.ID, 10); ds[0].Attempts != 2 || !ds[0].NextAt.Equal(w.clk.Now().Add(notify.Backoff(2))) {
		t.Fatalf("after a second 500: %+v", ds[0])
	}
	// Failing for a day: given up.
	for i := 0; i < 100; i++ {
		w.clk.Advance(time.Hour)
		if _, err := n.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ds, _ = w.svc.Deliveries(ctx, h.ID, 10)
	if ds[0].State != latchkey.DeliveryFailed {
		t.Fatalf("after a day of 500s: %+v", ds[0])
	}
	attempts := len(w.hook.posts())
	if ds[0].Attempts != attempts || w.obs.get("webhook failed") != 1 || w.obs.get("webhook retry") != attempts-1 {
		t.Errorf("attempts %d, posts %d, counted %v", ds[0].Attempts, attempts, w.obs.m)
	}
	stats, err := w.st.OutboxStats(ctx)
	if err != nil || stats.Failed != 1 || stats.Pending != 0 {
		t.Errorf("OutboxStats = %+v, %v", stats, err)
	}
	// A failed delivery stays failed.
	w.hook.status.Store(http.StatusOK)
	w.clk.Advance(time.Hour)
	if c, _ := n.Deliver(ctx); c != 0 {
		t.Errorf("a failed delivery was tried again")
	}
}

func TestRecoversAfterFailures(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.register(t)
	alice := w.user(t, "alice")
	w.hook.status.Store(http.StatusServiceUnavailable)
	w.smtp.Refuse(451)
	if _, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named("ci")}); err != nil {
		t.Fatal(err)
	}
	n := w.notifier(t, "a")
	run(t, n)
	w.hook.status.Store(http.StatusOK)
	w.smtp.Refuse(0)
	w.clk.Advance(notify.Backoff(1))
	run(t, n)
	posts := w.hook.posts()
	if len(posts) != 2 || posts[0].ID != posts[1].ID || posts[0].Raw != posts[1].Raw {
		t.Errorf("a retry is the same message, with the same webhook-id: %+v", posts)
	}
	if got := mails(w.smtp); len(got) != 1 || got[0].Header.Get("Message-Id") != "<"+notify.MessageID(posts[0].ID)+"@example.com>" {
		t.Errorf("mails after the retry: %d", len(got))
	}
}

func TestWebhookSeesOnlyWhatFollowsIt(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	alice := w.user(t, "alice")
	if _, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named("ci")}); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(time.Second)
	w.register(t)
	run(t, w.notifier(t, "a"))
	if got := len(w.hook.posts()); got != 0 {
		t.Errorf("a new webhook got %d notifications of before it was there", got)
	}
}

func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 10: 2560 * time.Second, 11: time.Hour, 40: time.Hour} {
		if got := notify.Backoff(attempt); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", attempt, got, want)
		}
	}
}

func TestThreshold(t *testing.T) {
	for d, want := range map[time.Duration]string{24 * time.Hour: "1d", 30 * 24 * time.Hour: "30d", 12 * time.Hour: "12h",
		36 * time.Hour: "1d12h", 90 * time.Second: "1m30s", 30 * time.Second: "30s"} {
		if got := notify.Threshold(d); got != want {
			t.Errorf("Threshold(%v) = %q, want %q", d, got, want)
		}
	}
}

func named(s string) *string { return &s }

func TestMailEscapesHTML(t *testing.T) {
	body, err := notify.Body(&latchkey.NotificationInfo{
		Notification: &latchkey.Notification{Type: latchkey.NoteTokenRevoked, MsgID: "msg_x", TokenID: "abc", UserID: 1, Actor: latchkey.ActorOperator},
		Username:     `<i>alice</i>`, Token: &latchkey.Token{ID: "abc", Name: `<script>alert(1)</script>`, RevokedReason: latchkey.ReasonAdmin},
	}, "https://tokens.example.com")
	if err != nil {
		t.Fatal(err)
	}
	m, err := notify.Mail(&latchkey.Delivery{MsgID: "msg_x", Recipient: "alice@example.com", Body: body}, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<i>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Errorf("the HTML part does not escape what users typed:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, `<script>alert(1)</script>`) {
		t.Errorf("the text part should say the name as it is:\n%s", m.Text)
	}
}

// TestRemindPages: more tokens than a page, some sharing an expiry, all
// reminded, once.
func TestRemindPages(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	alice := w.user(t, "alice")
	day := 24 * time.Hour
	for i := range 30 {
		// Ten share one expiry; the rest are a minute apart.
		exp := w.clk.Now().Add(40*day + time.Duration(max(i-9, 0))*time.Minute)
		if _, _, err := w.svc.CreateToken(ctx, &latchkey.Principal{User: alice}, alice, service.TokenRequest{Name: named("t"), ExpiresAt: &exp}); err != nil {
			t.Fatal(err)
		}
	}
	n := w.notifierWith(t, "a", 1) // pages of 8
	w.clk.Advance(15 * day)        // 25 days left: the 30-day reminder
	if c, err := n.Remind(ctx); c != 30 || err != nil {
		t.Fatalf("Remind = %d, %v; want 30", c, err)
	}
	if c, err := n.Remind(ctx); c != 0 || err != nil {
		t.Fatalf("Remind again = %d, %v; want 0", c, err)
	}
	fanned := 0
	for {
		c, err := n.FanOut(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c == 0 {
			break
		}
		fanned += c
	}
	if fanned != 30 {
		t.Errorf("fanned out %d, want 30", fanned)
	}
}

func TestMailWords(t *testing.T) {
	bob := int64(2)
	for _, c := range []struct {
		name string
		info latchkey.NotificationInfo
		want []string
	}{
		{"by a token", latchkey.NotificationInfo{Notification: &latchkey.Notification{Type: latchkey.NoteTokenCreated, TokenID: "abc",
			Actor: latchkey.ActorUser, ActorUserID: &bob, ActorTokenID: "tok9"}, ActorUsername: "bob", Token: &latchkey.Token{ID: "abc", Name: "ci"}},
			[]string{`A token "ci" was made for your account by bob (with their token tok9)`}},
		{"by a user with no name read", latchkey.NotificationInfo{Notification: &latchkey.Notification{Type: latchkey.NoteTokenRevoked, TokenID: "abc",
			Actor: latchkey.ActorUser, ActorUserID: &bob}}, []string{"Your token abc was revoked by user 2"}},
		{"never expires", latchkey.NotificationInfo{Notification: &latchkey.Notification{Type: latchkey.NoteTokenExpired, TokenID: "abc",
			Actor: latchkey.ActorSystem}, Token: &latchkey.Token{ID: "abc", Name: "x"}}, []string{"expired on (never)"}},
		{"by the operator", latchkey.NotificationInfo{Notification: &latchkey.Notification{Type: latchkey.NoteTokenRotated, TokenID: "abc",
			Actor: latchkey.ActorOperator}, Token: &latchkey.Token{ID: "abc", Name: "x"}}, []string{"rotated by an operator at the command line"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, err := notify.Body(&c.info, "")
			if err != nil {
				t.Fatal(err)
			}
			m, err := notify.Mail(&latchkey.Delivery{MsgID: "msg_x", Recipient: "a@example.com", Body: body}, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("the mail lacks %q:\n%s", w, m.Text)
				}
			}
		})
	}
}

// TestSlowReceiverHoldsNoOne: a receiver that hangs holds one delivery,
// not the next pass: another webhook gets what follows meanwhile.
func TestSlowReceiverHoldsNoOne(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.register(t) // answers at once
	release := make(chan struct{})
	held := make(chan struct{}, 16)
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		held <- struct{}{}
		<-release
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	if _, _, err := w.svc.CreateWebhook(ctx, service.NewWebhook{URL: slow.URL, AllowPrivate: true}); err != nil {
		t.Fatal(err)
	}
	alice := w.user(t, "alice")
	n := notify.New(notify.Options{Store: w.st, Sender: &webhook.Sender{AllowPrivate: true, Timeout: time.Minute},
		Opener: w.svc.OpenWebhookSecret, Server: "a", Clock: w.clk.Now, Every: 5 * time.Millisecond})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	// posted waits for the quick receiver's next post; the minute only
	// ends a test that would otherwise hang.
	posted := func(count int) {
		t.Helper()
		select {
		case <-w.hook.arrived:
		case <-time.After(time.Minute):
			t.Fatalf("%d posts to the quick receiver, want %d", len(w.hook.posts()), count)
		}
	}
	if _, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named("one")}); err != nil {
		t.Fatal(err)
	}
	<-held
	posted(1)
	// The slow receiver still holds the first: the second goes out anyway.
	if _, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named("two")}); err != nil {
		t.Fatal(err)
	}
	posted(2)
	stop()
	release <- struct{}{} // the first; Run waits for it, then returns
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
}

// TestLongName: a name of 255 characters of three bytes each still makes
// a mail that a mail server takes, its subject cut short at a character.
// (A name of zero-width spaces, which a thief might give the token they
// make to hide it, is refused: latchkey.ValidText.)
func TestLongName(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	alice := w.user(t, "alice")
	if _, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named(strings.Repeat("\u200b", 255))}); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Fatalf("a name of zero-width spaces: %v, want it refused", err)
	}
	if _, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named(strings.Repeat("\u4e2d", 255))}); err != nil {
		t.Fatal(err)
	}
	run(t, w.notifier(t, "a"))
	got := mails(w.smtp)
	if len(got) != 1 || got[0].ParseErr != nil {
		t.Fatalf("mails: %+v", got)
	}
	if want := "A new token was made for you: token \"" + strings.Repeat("\u4e2d", 60) + "…\""; got[0].Subject != want {
		t.Errorf("subject %q, want %q", got[0].Subject, want)
	}
}

// TestErrorCleaned: a mail server answering with bytes that are not text,
// and a great many of them: the attempt is recorded (PostgreSQL refuses
// invalid UTF-8 and NUL in text), in a line of bounded length.
func TestErrorCleaned(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "220 mx.test\r\n")
			bufio.NewReader(c).ReadString('\n')
			fmt.Fprint(c, "554 refused \xff\xfe\x00\x1b[31m "+strings.Repeat("x ", 300)+"\r\n")
			c.Close()
		}
	}()
	m, err := mail.New("smtp://"+l.Addr().String(), "tokens@example.com", mail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice := w.user(t, "alice")
	if _, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named("ci")}); err != nil {
		t.Fatal(err)
	}
	n := notify.New(notify.Options{Store: w.st, Mailer: m, Server: "a", Clock: w.clk.Now})
	run(t, n)
	ds, err := w.svc.Deliveries(ctx, "mail", 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Deliveries = %v, %v", ds, err)
	}
	e := ds[0].LastError
	if ds[0].Attempts != 1 || !utf8.ValidString(e) || strings.ContainsFunc(e, unicode.IsControl) || len(e) > notify.MaxErrorLength || !strings.Contains(e, "refused") {
		t.Errorf("recorded %d attempts, error %q (%d bytes)", ds[0].Attempts, e, len(e))
	}
}

// TestPermanentRefusals: a receiver that answers 410 Gone, and a mail
// server that says the mailbox does not exist, are not asked again.
func TestPermanentRefusals(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	h := w.register(t)
	w.hook.status.Store(http.StatusGone)
	w.smtp.Refuse(550)
	alice := w.user(t, "alice")
	if _, _, err := w.svc.OperatorCreateToken(ctx, alice, service.TokenRequest{Name: named("ci")}); err != nil {
		t.Fatal(err)
	}
	n := w.notifier(t, "a")
	run(t, n)
	for _, id := range []string{h.ID, "mail"} {
		ds, err := w.svc.Deliveries(ctx, id, 10)
		if err != nil || len(ds) != 1 || ds[0].State != latchkey.DeliveryFailed || ds[0].Attempts != 1 {
			t.Errorf("deliveries of %s after a permanent refusal: %+v, %v; want one failed after one attempt", id, ds, err)
		}
	}
	if w.obs.get("webhook failed") != 1 || w.obs.get("mail failed") != 1 {
		t.Errorf("counted %v", w.obs.m)
	}
	// A temporary refusal (451) is retried: TestRecoversAfterFailures.
}
