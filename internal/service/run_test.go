package service

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// lingering is a SQLite store whose subscription, once its context is
// done, returns only when the test lets it: a listener still reading.
type lingering struct {
	*sqlite.DB
	release  chan struct{}
	returned atomic.Bool
}

func (l *lingering) Subscribe(ctx context.Context, f func(latchkey.Event)) error {
	err := l.DB.Subscribe(ctx, f)
	<-l.release
	l.returned.Store(true)
	return err
}

// TestRunWaitsForItsListener: Run returns only once its listener for
// other replicas' changes has, for the store may be closed the moment Run
// returns. synctest.Wait waits until every goroutine is blocked: Run
// either returned or waits for the listener, with no timing involved.
func TestRunWaitsForItsListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc, db := newTestService(t, Config{})
		st := &lingering{DB: db, release: make(chan struct{})}
		svc.events = st
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		synctest.Wait()
		cancel()
		synctest.Wait()
		select {
		case <-done:
			close(st.release)
			t.Fatal("Run returned while its listener was still running")
		default:
		}
		close(st.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !st.returned.Load() {
			t.Error("Run returned before its listener did")
		}
	})
}
