package oauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// faultyService is the service as the provider sees it, with a fault or a
// hook where a test sets one.
type faultyService struct {
	*service.Service
	findUserErr       error  // FindUser fails with it
	storeAccessErr    error  // StoreAccessToken fails with it
	beforeStoreAccess func() // runs as an access token is about to be stored
}

func (s *faultyService) FindUser(ctx context.Context, ref string) (*latchkey.User, error) {
	if s.findUserErr != nil {
		return nil, s.findUserErr
	}
	return s.Service.FindUser(ctx, ref)
}

func (s *faultyService) StoreAccessToken(ctx context.Context, t *latchkey.Token, g *latchkey.Grant, origin latchkey.Origin) error {
	if s.beforeStoreAccess != nil {
		s.beforeStoreAccess()
	}
	if s.storeAccessErr != nil {
		return s.storeAccessErr
	}
	return s.Service.StoreAccessToken(ctx, t, g, origin)
}

// withFaults returns the wrapSvc of newProviderWith that puts fs between
// the provider and the service.
func withFaults(fs *faultyService) func(*service.Service) Service {
	return func(s *service.Service) Service {
		fs.Service = s
		return fs
	}
}

// TestTokenServerErrorLogged: a refusal at the token endpoint that is the
// server's failure (5xx) is logged; one of the client's making (4xx) is
// not. Without a logger, the failure is still answered.
func TestTokenServerErrorLogged(t *testing.T) {
	t.Run("logger", func(t *testing.T) {
		var log bytes.Buffer
		fs := &faultyService{}
		p, svc, _ := newProviderWith(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))}, withFaults(fs), nil)
		a := newApp(t, p, svc, false)
		if status, body := a.exchange("not-a-code", testVerifier); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("exchange of no code: %d %v, want 400 invalid_grant", status, body)
		}
		if log.Len() != 0 {
			t.Errorf("a 400 was logged: %s", &log)
		}
		code := a.code()
		fs.findUserErr = errors.New("the users table is on fire")
		if status, body := a.exchange(code, testVerifier); status != http.StatusInternalServerError || body["error"] != "server_error" {
			t.Fatalf("exchange while users cannot be read: %d %v, want 500 server_error", status, body)
		}
		if got := log.String(); !strings.Contains(got, "token endpoint") || !strings.Contains(got, "the users table is on fire") {
			t.Errorf("the 500 logged %q, want the endpoint and the cause", got)
		}
	})
	t.Run("no logger", func(t *testing.T) {
		fs := &faultyService{}
		p, svc, _ := newProviderWith(t, Config{}, withFaults(fs), nil)
		a := newApp(t, p, svc, false)
		code := a.code()
		fs.findUserErr = errors.New("the users table is on fire")
		if status, body := a.exchange(code, testVerifier); status != http.StatusInternalServerError || body["error"] != "server_error" {
			t.Errorf("exchange while users cannot be read: %d %v, want 500 server_error", status, body)
		}
	})
}

// TestRefreshWhileUsersUnreadable: when the user of a refresh token cannot
// be read, the refresh fails as the server's failure (500, logged), not as
// a bad request that would tell the client to drop its token; and the
// token still works once the users can be read again.
func TestRefreshWhileUsersUnreadable(t *testing.T) {
	var log bytes.Buffer
	fs := &faultyService{}
	p, svc, _ := newProviderWith(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))}, withFaults(fs), nil)
	a := newApp(t, p, svc, false)
	_, refresh := a.tokens(a.code())
	fs.findUserErr = errors.New("the users table is on fire")
	if status, body := a.refresh(refresh); status != http.StatusInternalServerError || body["error"] != "server_error" {
		t.Errorf("refresh: %d %v, want 500 server_error", status, body)
	}
	if !strings.Contains(log.String(), "the users table is on fire") {
		t.Errorf("the 500 logged %q, want its cause", &log)
	}
	fs.findUserErr = nil
	if status, body := a.refresh(refresh); status != http.StatusOK {
		t.Errorf("refresh once the users can be read: %d %v, want 200", status, body)
	}
}
