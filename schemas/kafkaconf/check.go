package kafkaconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrUnreachable wraps Check's error when no broker answered in time: a
// retry may fix it (the broker is starting, the network is down), so
// callers may warn and go on. Every other error of Check is a setting the
// brokers refuse, which no retry fixes.
var ErrUnreachable = errors.New("no kafka broker answered")

// DefaultCheckTimeout bounds Check when ctx has no earlier deadline.
const DefaultCheckTimeout = 10 * time.Second

// Check asks the brokers for their metadata once over a connection of its
// own with these settings, so a wrong password, mechanism, CA or TLS
// setting is an error at startup naming the setting, not a client that
// retries forever. Without a deadline on ctx it waits DefaultCheckTimeout.
func (c *Config) Check(ctx context.Context) error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("cannot check the kafka connection: %s is empty", c.key("brokers"))
	}
	opts, err := c.Opts()
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCheckTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	h := &probe{}
	// A dial ends well before ctx, so a TLS handshake that hangs is seen
	// as such (by the hook) rather than cut off by the deadline.
	dial := min(5*time.Second, time.Until(deadline)/2)
	opts = append(opts, kgo.SeedBrokers(c.Brokers...), kgo.ClientID("sightline-check"), kgo.WithHooks(h),
		kgo.DialTimeout(max(dial, 100*time.Millisecond)))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("cannot create kafka client: %w", err)
	}
	defer cl.Close()
	// Ping answers from the first broker that gives metadata; a metadata
	// request (unlike ApiVersions) is refused before SASL completes.
	for {
		err = cl.Ping(ctx)
		if err == nil {
			return nil
		}
		if cerr := c.classify(err, h); cerr != nil {
			return cerr
		}
		select {
		case <-ctx.Done():
			if c.TLS.Enabled && h.sawHandshakeHang() {
				// A listener that takes the connection and never answers
				// the ClientHello reads it as a (huge) plaintext request.
				return fmt.Errorf("cannot complete the TLS handshake with kafka %s: the listener accepted the connection but never answered (it does not speak TLS? check %s and the port in %s): %w",
					strings.Join(c.Brokers, ","), c.key("tls.enabled"), c.key("brokers"), err)
			}
			return fmt.Errorf("cannot reach kafka %s %v: %w (last error: %v)", c.key("brokers"), c.Brokers, ErrUnreachable, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// probe remembers whether a connection died reading a SASL response: a
// broker that rejects the credentials may close the connection instead of
// answering with an error code.
type probe struct {
	mu         sync.Mutex
	saslBroken bool
	tlsHang    bool
}

// OnBrokerConnect sees the dial, TLS handshake included: a handshake cut
// off by the deadline after the TCP connection was made.
func (p *probe) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		return
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return // no TCP connection: refused, unroutable, DNS
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		p.mu.Lock()
		p.tlsHang = true
		p.mu.Unlock()
	}
}

func (p *probe) sawHandshakeHang() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tlsHang
}

func (p *probe) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil && (key == int16(kmsg.SASLAuthenticate) || key == int16(kmsg.SASLHandshake)) {
		p.mu.Lock()
		p.saslBroken = true
		p.mu.Unlock()
	}
}

func (p *probe) sawSASLBreak() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.saslBroken
}

// classify turns err into an error naming the setting the brokers refuse,
// or nil when it looks like an unreachable broker.
func (c *Config) classify(err error, h *probe) error {
	addr := strings.Join(c.Brokers, ",")
	mech, user := mechanism(c.SASL.Mechanism), c.SASL.Username
	saslSettings := fmt.Sprintf("%s, %s (or %s) and %s", c.key("sasl.username"), c.key("sasl.password"), c.key("sasl.password_env"), c.key("sasl.mechanism"))
	var (
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalid    x509.CertificateInvalidError
		recordErr  tls.RecordHeaderError
		alert      tls.AlertError
		firstEOF   *kgo.ErrFirstReadEOF
		certVerify *tls.CertificateVerificationError
		remote     *net.OpError // a TLS alert from the broker
	)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("cannot authenticate to kafka %s as %q with %s: the broker rejected the credentials (check %s): %w", addr, user, mech, saslSettings, err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("cannot authenticate to kafka %s: %s %s is not enabled on the broker: %w", addr, c.key("sasl.mechanism"), mech, err)
	case errors.Is(err, kerr.IllegalSaslState):
		return fmt.Errorf("cannot authenticate to kafka %s: the listener does not take SASL (remove %s, or use the broker's SASL port in %s): %w", addr, c.key("sasl.mechanism"), c.key("brokers"), err)
	case errors.As(err, &unknownCA):
		what := "the system's root CAs (set " + c.key("tls.ca_file") + " to the CA that signs it)"
		if c.TLS.CAFile != "" {
			what = "the CA in " + c.key("tls.ca_file") + " (" + c.TLS.CAFile + ")"
		}
		return fmt.Errorf("cannot verify the TLS certificate of kafka %s: it is not signed by %s: %w", addr, what, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("cannot verify the TLS certificate of kafka %s: it is not valid for the name dialled (set %s to a name it carries): %w", addr, c.key("tls.server_name"), err)
	case errors.As(err, &invalid):
		return fmt.Errorf("cannot verify the TLS certificate of kafka %s (expired, or not for a server?; check %s): %w", addr, c.key("tls.ca_file"), err)
	case errors.As(err, &certVerify):
		return fmt.Errorf("cannot verify the TLS certificate of kafka %s (check %s): %w", addr, c.key("tls.ca_file"), err)
	case errors.As(err, &alert) || errors.As(err, &remote) && remote.Op == "remote error":
		return fmt.Errorf("cannot complete the TLS handshake with kafka %s: the broker refused it (it requires a client certificate it accepts: check %s and %s): %w",
			addr, c.key("tls.cert_file"), c.key("tls.key_file"), err)
	case errors.As(err, &recordErr):
		return fmt.Errorf("cannot complete the TLS handshake with kafka %s: the listener does not speak TLS (set %s to false, or use the broker's TLS port in %s): %w",
			addr, c.key("tls.enabled"), c.key("brokers"), err)
	case strings.Contains(err.Error(), "tls alert record"):
		// The client spoke plaintext and a TLS listener answered.
		return fmt.Errorf("cannot talk to kafka %s: the listener speaks TLS (set %s: true): %w", addr, c.key("tls.enabled"), err)
	case mech != "" && h.sawSASLBreak():
		return fmt.Errorf("cannot authenticate to kafka %s as %q with %s: the broker closed the connection during authentication (check %s): %w",
			addr, user, mech, saslSettings, err)
	case errors.As(err, &firstEOF) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// Something answered, then hung up: a protocol mismatch, not a
		// broker that is down.
		switch {
		case c.TLS.Enabled && isDialPhase(err):
			return fmt.Errorf("cannot complete the TLS handshake with kafka %s: the listener closed the connection (it does not speak TLS? check %s and %s): %w",
				addr, c.key("tls.enabled"), c.key("brokers"), err)
		case !c.TLS.Enabled && strings.Contains(err.Error(), "api versions"):
			return fmt.Errorf("cannot talk to kafka %s: the listener closed the connection at the first request (it requires TLS? set %s: true): %w",
				addr, c.key("tls.enabled"), err)
		case mech == "":
			return fmt.Errorf("cannot talk to kafka %s: the broker closed the connection after the first request (it requires SASL? set %s): %w",
				addr, c.key("sasl.mechanism"), err)
		}
	}
	return nil // refused dials, timeouts, DNS: the broker may come up
}

// isDialPhase reports whether err came from opening the connection (TLS
// handshake included) rather than from a request on it.
func isDialPhase(err error) bool {
	s := err.Error()
	return strings.Contains(s, "unable to dial") || strings.Contains(s, "after a dial") || strings.Contains(s, "handshake")
}
