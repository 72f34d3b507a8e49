package webhook_test

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/webhook"
)

func TestCheckURL(t *testing.T) {
	const (
		ok          = ""
		badForm     = "the URL" // refused whatever allowPrivate says
		notIP       = "is an IP address in an unusual form"
		badName     = "is not a valid name"
		scheme      = "the URL's scheme must be http or https"
		local       = "is a local name"
		thisMachine = "is this machine"
	)
	for _, tc := range []struct {
		url string
		// want is the start or end of the error, "" for none: strict is
		// with allowPrivate false, loose with it true.
		strict, loose string
	}{
		{"https://example.com/hook", ok, ok},
		{"http://example.com:8080/a/b?c=d&e=f", ok, ok},
		{"https://EXAMPLE.com/", ok, ok},
		{"https://example.com./", ok, ok},
		{"https://hooks.example.com:443", ok, ok},
		{"https://my_host.example.com/", ok, ok},
		{"https://xn--xample-ova.com/", ok, ok},
		{"HTTPS://example.com/", ok, ok},
		{"https://192.0.1.1/", ok, ok}, // beside TEST-NET-1
		{"https://93.184.215.14/", ok, ok},
		{"https://[2606:4700:4700::1111]/", ok, ok},
		{"https://[2606:4700:4700::1111]:8443/", ok, ok},
		{"https://%65xample.com/", badForm, badForm}, // no escapes in a name

		// The form of the URL.
		{"ftp://example.com/", scheme, scheme},
		{"javascript:alert(1)", scheme, scheme},
		{"file:///etc/passwd", scheme, scheme},
		{"example.com/hook", scheme, scheme},
		{"//example.com/hook", scheme, scheme},
		{"", scheme, scheme},
		{"https:example.com", "the URL has no host", "the URL has no host"},
		{"https:///hook", "the URL has no host", "the URL has no host"},
		{"https://user:pass@example.com/", "the URL may not have user info", "the URL may not have user info"},
		{"https://user@example.com/", "the URL may not have user info", "the URL may not have user info"},
		{"https://@example.com/", "the URL may not have user info", "the URL may not have user info"},
		{"https://example.com/#part", "the URL may not have a fragment", "the URL may not have a fragment"},
		{"https://example.com/#", "the URL may not have a fragment", "the URL may not have a fragment"},
		{"https://example.com:0/", badForm, badForm},
		{"https://example.com:65536/", badForm, badForm},
		{"https://example.com:08080/", badForm, badForm},
		{"https://example.com:/", badForm, badForm},
		{"https://example.com:http/", badForm, badForm},
		{"https://exa mple.com/", badForm, badForm},
		{"https://[::1/", badForm, badForm},
		{"https://example.com/\x7f", badForm, badForm},

		// Hosts that are neither a name nor an address in a usual form.
		{"http://127.1/", notIP, notIP},
		{"http://127.0.1/", notIP, notIP},
		{"http://0x7f.1/", notIP, notIP},
		{"http://0x7f.0.0.1/", notIP, notIP},
		{"http://0x7f000001/", notIP, notIP},
		{"http://0X7F000001/", notIP, notIP},
		{"http://2130706433/", notIP, notIP},
		{"http://017700000001/", notIP, notIP},
		{"http://0177.0.0.1/", notIP, notIP},
		{"http://127.0.0.01/", notIP, notIP},
		{"http://127.000.000.001/", notIP, notIP},
		{"http://127.0.0.1./", notIP, notIP},
		{"http://8.8.8.8./", notIP, notIP},
		{"http://1.2.3.4.5/", notIP, notIP},
		{"http://example.0x10/", notIP, notIP},
		{"http://0x/", notIP, notIP},
		{"http://0/", notIP, notIP},
		{"http://[127.0.0.1]/", badForm, badForm},
		{"http://[example.com]/", badForm, badForm},
		{"http://ëxample.com/", badName, badName},
		{"http://１２７.０.０.１/", badName, badName}, // fullwidth digits, 127.0.0.1 after IDNA
		{"http://127.0.0.1%00.example.com/", badForm, badForm},
		{"http://a..b/", badName, badName},
		{"http://./", badName, badName},
		{"http://:8080/", badName, badName},
		{"http://" + strings.Repeat("a", 64) + ".com/", badName, badName},
		{"http://" + strings.Repeat("a.", 127) + "com/", "is too long a name", "is too long a name"},

		// Inside.
		{"http://127.0.0.1:8080/", "address 127.0.0.1 is loopback", ok},
		{"http://127.255.255.254/", "address 127.255.255.254 is loopback", ok},
		{"http://10.0.0.1/", "address 10.0.0.1 is private", ok},
		{"http://172.31.255.255/", "address 172.31.255.255 is private", ok},
		{"http://192.168.1.1/", "address 192.168.1.1 is private", ok},
		{"http://169.254.169.254/latest/meta-data/", "address 169.254.169.254 is link-local", ok},
		{"http://100.100.100.200/", "address 100.100.100.200 is shared (carrier-grade NAT)", ok},
		{"http://0.0.0.0:8080/", "address 0.0.0.0 is unspecified", ok},
		{"http://255.255.255.255/", "address 255.255.255.255 is broadcast", ok},
		{"http://224.0.0.1/", "address 224.0.0.1 is multicast", ok},
		{"http://192.0.2.1/", "address 192.0.2.1 is for documentation", ok},
		{"http://[::1]:8080/", "address ::1 is loopback", ok},
		{"http://[::]/", "address :: is unspecified", ok},
		{"http://[::ffff:127.0.0.1]/", "address ::ffff:127.0.0.1 is loopback", ok},
		{"http://[::ffff:7f00:1]/", "address ::ffff:127.0.0.1 is loopback", ok},
		{"http://[0:0:0:0:0:ffff:a00:1]/", "address ::ffff:10.0.0.1 is private", ok},
		{"http://[::ffff:0:a9fe:a9fe]/", "address ::ffff:0:a9fe:a9fe is link-local (169.254.169.254 inside)", ok},
		{"http://[64:ff9b::7f00:1]/", "address 64:ff9b::7f00:1 is loopback (127.0.0.1 inside)", ok},
		{"http://[2002:a9fe:a9fe::1]/", "address 2002:a9fe:a9fe::1 is link-local (169.254.169.254 inside)", ok},
		{"http://[::127.0.0.1]/", "address ::7f00:1 is reserved", ok},
		{"http://[fd00:ec2::254]/", "address fd00:ec2::254 is private", ok},
		{"http://[fe80::1]/", "address fe80::1 is link-local", ok},
		{"http://[fe80::1%25eth0]/", "names a network interface", ok},
		{"http://[ff02::1]/", "address ff02::1 is multicast", ok},
		{"http://localhost:8080/", thisMachine, ok},
		{"http://LocalHost./", thisMachine, ok},
		{"http://api.localhost/", local, ok},
		{"http://printer.local/", local, ok},
		{"http://metadata.google.internal/computeMetadata/v1/", local, ok},
		{"http://localhost.example.com/", ok, ok},
		{"http://internal/", ok, ok}, // one label; what it resolves to is checked when sending
	} {
		for _, allowPrivate := range []bool{false, true} {
			want := tc.strict
			if allowPrivate {
				want = tc.loose
			}
			err := webhook.CheckURL(tc.url, allowPrivate)
			switch {
			case want == ok && err != nil:
				t.Errorf("CheckURL(%q, %v) = %v, want nil", tc.url, allowPrivate, err)
			case want != ok && (err == nil || !strings.HasPrefix(err.Error(), want) && !strings.HasSuffix(err.Error(), want)):
				t.Errorf("CheckURL(%q, %v) = %v, want %q", tc.url, allowPrivate, err, want)
			}
		}
	}
}

// TestCheckURLHidesPasswords checks that no error of CheckURL shows a
// password, even of a URL that does not parse.
func TestCheckURLHidesPasswords(t *testing.T) {
	for _, u := range []string{
		"https://user:s3cr3t@example.com/",
		"https://user:s3cr3t@exa mple.com/",
		"https://user:s3cr3t@example.com:99x/",
		"https://user:s3cr3t%zz@example.com/",
		"ftp://user:s3cr3t@example.com/",
	} {
		err := webhook.CheckURL(u, true)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("CheckURL(%q) = %v, want an error without the password", u, err)
		}
	}
}
