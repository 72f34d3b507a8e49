package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/mail"
)

// Message is a notification's body, as webhooks receive it and mail is
// written from: {"type", "timestamp", "data"} (Standard Webhooks). It
// never holds a secret.
type Message struct {
	Type      latchkey.NotificationType `json:"type"`
	Timestamp time.Time                 `json:"timestamp"`
	Data      Data                      `json:"data"`
}

// Data is what a notification says.
type Data struct {
	// The token, for the token.* types.
	TokenID   string     `json:"token_id,omitempty"`
	TokenName string     `json:"token_name,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Its owner.
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
	// Who acted.
	Actor Actor `json:"actor"`
	// Reason is why a token was revoked (its revoked_reason), or the
	// reminder's threshold ("7d").
	Reason string `json:"reason,omitempty"`
	// Detail is the audit log's detail of the change.
	Detail string `json:"detail,omitempty"`
	// The application, for application.authorized.
	ClientID   int64  `json:"client_id,omitempty"`
	ClientName string `json:"client_name,omitempty"`
	// URL is the page where the owner sees it; "" without --public-url.
	URL string `json:"url,omitempty"`
}

// Actor is who made the change: "user" (UserID, and TokenID if by a
// token), "operator" (the command line), or "system" (the server).
type Actor struct {
	Type     latchkey.AuditActor `json:"type"`
	UserID   *int64              `json:"user_id,omitempty"`
	Username string              `json:"username,omitempty"`
	TokenID  string              `json:"token_id,omitempty"`
}

// Body returns the body of info's notification.
func Body(info *latchkey.NotificationInfo, publicURL string) ([]byte, error) {
	m := Message{Type: info.Type, Timestamp: info.At.UTC(), Data: Data{
		TokenID: info.TokenID, UserID: info.UserID, Username: info.Username,
		Actor:    Actor{Type: info.Actor, UserID: info.ActorUserID, Username: info.ActorUsername, TokenID: info.ActorTokenID},
		Detail:   info.Detail,
		ClientID: info.ClientID,
	}}
	if t := info.Token; t != nil {
		m.Data.TokenName = t.Name
		if t.ExpiresAt != nil {
			at := t.ExpiresAt.UTC()
			m.Data.ExpiresAt = &at
		}
		if info.Type == latchkey.NoteTokenRevoked {
			m.Data.Reason = string(t.RevokedReason)
		}
	}
	if info.Type == latchkey.NoteTokenExpiring {
		m.Data.Reason, m.Data.Detail = info.Detail, ""
	}
	if info.Client != nil {
		m.Data.ClientName = info.Client.Name
	}
	if publicURL != "" {
		base := strings.TrimSuffix(publicURL, "/")
		if info.Type == latchkey.NoteAppAuthorized {
			m.Data.URL = base + "/applications"
		} else if info.TokenID != "" {
			m.Data.URL = base + "/tokens#token-" + info.TokenID
		}
	}
	return json.Marshal(m)
}

// Mail returns the mail of d, a delivery to an owner's mailbox: a subject,
// and the same words as text and as HTML, with the link to the token.
func Mail(d *latchkey.Delivery, publicURL string) (mail.Message, error) {
	var m Message
	if err := json.Unmarshal(d.Body, &m); err != nil {
		return mail.Message{}, fmt.Errorf("notification %s: body: %w", d.MsgID, err)
	}
	v := view{Message: m, Subject: subject(m), Lines: lines(m)}
	var text, html bytes.Buffer
	if err := textMail.Execute(&text, v); err != nil {
		return mail.Message{}, err
	}
	if err := htmlMail.Execute(&html, v); err != nil {
		return mail.Message{}, err
	}
	return mail.Message{To: d.Recipient, Subject: v.Subject, Text: text.String(), HTML: html.String(),
		MessageID: MessageID(d.MsgID), Date: m.Timestamp}, nil
}

// MessageID is the Message-ID of the mail of message msgID ("msg_…"),
// without its brackets: the same on every retry, so that a mail reader
// shows a message sent twice once. The domain is the From address's.
func MessageID(msgID string) string { return strings.ReplaceAll(msgID, "_", ".") }

// view is what the mail templates see.
type view struct {
	Message
	Subject string
	Lines   []string
}

// name is how mail names the token: by its name, cut to 60 characters
// (a name of 255 invisible characters must not make a subject no mail
// server takes), else by its id.
func name(m Message) string {
	if m.Data.TokenName == "" {
		return "token " + m.Data.TokenID
	}
	return `token "` + shorten(m.Data.TokenName, 60) + `"`
}

// shorten is s cut to n characters, with "…" when it was longer.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// by is how mail names who acted.
func by(a Actor) string {
	switch a.Type {
	case latchkey.ActorOperator:
		return "an operator at the command line"
	case latchkey.ActorSystem:
		return "the server"
	case latchkey.ActorUser:
		who := a.Username
		if who == "" && a.UserID != nil {
			who = fmt.Sprintf("user %d", *a.UserID)
		}
		if a.TokenID != "" {
			return who + " (with their token " + shorten(a.TokenID, 8) + ")"
		}
		return who
	}
	return string(a.Type)
}

// subject is a mail's subject.
func subject(m Message) string {
	switch m.Type {
	case latchkey.NoteTokenExpiring:
		return "Your " + name(m) + " expires soon"
	case latchkey.NoteTokenExpired:
		return "Your " + name(m) + " has expired"
	case latchkey.NoteTokenCreated:
		return "A new token was made for you: " + name(m)
	case latchkey.NoteTokenRevoked:
		return "Your " + name(m) + " was revoked"
	case latchkey.NoteTokenRotated:
		return "Your " + name(m) + " was rotated"
	case latchkey.NoteTokenReuse:
		return "Security: your " + name(m) + " may have been stolen"
	case latchkey.NoteAppAuthorized:
		return `You allowed "` + shorten(m.Data.ClientName, 60) + `" to use your account`
	}
	return string(m.Type)
}

// lines are a mail's sentences.
func lines(m Message) []string {
	d := m.Data
	when := m.Timestamp.UTC().Format("2006-01-02 15:04 UTC")
	var out []string
	switch m.Type {
	case latchkey.NoteTokenExpiring:
		out = append(out, fmt.Sprintf("Your %s expires on %s.", name(m), date(d.ExpiresAt)),
			"Rotate it, or make a new one, before then, or whatever uses it will stop working.")
	case latchkey.NoteTokenExpired:
		out = append(out, fmt.Sprintf("Your %s expired on %s. Whatever used it can no longer sign in with it.", name(m), date(d.ExpiresAt)))
	case latchkey.NoteTokenCreated:
		out = append(out, fmt.Sprintf("A %s was made for your account by %s on %s.", name(m), by(d.Actor), when),
			"If you did not expect it, revoke it and tell your administrator.")
	case latchkey.NoteTokenRevoked:
		out = append(out, fmt.Sprintf("Your %s was revoked by %s on %s.", name(m), by(d.Actor), when))
		if why := reasons[latchkey.RevokeReason(d.Reason)]; why != "" {
			out = append(out, why)
		} else if d.Reason != "" {
			out = append(out, "Reason: "+d.Reason+".")
		}
		out = append(out, "Whatever used it can no longer sign in with it.")
	case latchkey.NoteTokenRotated:
		out = append(out, fmt.Sprintf("Your %s was rotated by %s on %s: a new token replaces it.", name(m), by(d.Actor), when))
	case latchkey.NoteTokenReuse:
		out = append(out, fmt.Sprintf("Your %s was rotated again after its successor had been used, on %s.", name(m), when),
			"Someone else may hold one of its secrets, so every token of its rotation was revoked. Make a new token, and find where the old one leaked.")
	case latchkey.NoteAppAuthorized:
		out = append(out, fmt.Sprintf("You allowed the application %q to use your account on %s.", d.ClientName, when),
			"If this was not you, withdraw its access and change your password.")
	}
	return out
}

// reasons say in words why a token was revoked.
var reasons = map[latchkey.RevokeReason]string{
	latchkey.ReasonAdmin:              "Someone allowed to manage your tokens revoked it.",
	latchkey.ReasonOwner:              "It was revoked with your own account.",
	latchkey.ReasonParentRevoked:      "The token that made it was revoked, and tokens go with the token that made them.",
	latchkey.ReasonIdle:               "It had not been used for longer than the server allows.",
	latchkey.ReasonReuseDetected:      "Its rotation was used twice, so someone else may hold it.",
	latchkey.ReasonUserDisabled:       "Your account was disabled.",
	latchkey.ReasonUserRestored:       "Your account was restored, and its old tokens do not come back.",
	latchkey.ReasonClientRevoked:      "The application it belonged to was removed.",
	latchkey.ReasonAuthorizationEnded: "A code or refresh token of the application it belonged to was used twice, so someone else may hold it.",
	latchkey.ReasonConsentWithdrawn:   "Your approval of its application was withdrawn.",
}

// date is an expiry as mail says it.
func date(t *time.Time) string {
	if t == nil {
		return "(never)"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

var textMail = texttemplate.Must(texttemplate.New("text").Parse(`{{range .Lines}}{{.}}

{{end}}{{with .Data.URL}}See it at {{.}}
{{end}}
-- 
Latchkey. You get this mail because of your account {{.Data.Username}}.
`))

var htmlMail = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body>
{{range .Lines}}<p>{{.}}</p>
{{end}}{{with .Data.URL}}<p><a href="{{.}}">See it in Latchkey</a></p>
{{end}}<p style="color:#666">Latchkey. You get this mail because of your account {{.Data.Username}}.</p>
</body></html>
`))
