package kafkaconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is a Kafka connection: the YAML shape
//
//	kafka:
//	  brokers: [kafka-0:9093, kafka-1:9093]
//	  tls: {enabled: true, ca_file: /etc/kafka/ca.pem, cert_file: ..., key_file: ..., server_name: ..., insecure_skip_verify: false}
//	  sasl: {mechanism: SCRAM-SHA-512, username: sightline, password_env: KAFKA_PASSWORD}
//
// The zero value is plaintext without authentication.
type Config struct {
	// Brokers are the seed brokers, host:port. Whether they are required
	// is the caller's to say (the config file's empty list means the
	// embedded broker).
	Brokers []string `yaml:"brokers" mapstructure:"brokers"`
	TLS     TLS      `yaml:"tls" mapstructure:"tls"`
	SASL    SASL     `yaml:"sasl" mapstructure:"sasl"`

	// Key spells a setting in errors: it gets the name relative to the
	// section ("tls.ca_file", "brokers[0]") and returns what the user
	// wrote. Nil spells "kafka.tls.ca_file", the config file's keys.
	Key func(name string) string `yaml:"-" mapstructure:"-" json:"-"`
}

// TLS to the brokers.
type TLS struct {
	// Enabled turns TLS on; the other keys need it.
	Enabled bool `yaml:"enabled" mapstructure:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the brokers'
	// certificates (default: the system's roots).
	CAFile string `yaml:"ca_file" mapstructure:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key, for
	// brokers that require mutual TLS (both or neither).
	CertFile string `yaml:"cert_file" mapstructure:"cert_file"`
	KeyFile  string `yaml:"key_file" mapstructure:"key_file"`
	// ServerName is the name the brokers' certificates must carry
	// (default: each broker's host, as dialled).
	ServerName string `yaml:"server_name" mapstructure:"server_name"`
	// InsecureSkipVerify accepts any certificate: for tests only, it
	// lets anyone between here and the broker read the traffic.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify" mapstructure:"insecure_skip_verify"`
}

// SASL authentication; an empty Mechanism means none.
type SASL struct {
	// Mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (any case).
	Mechanism string `yaml:"mechanism" mapstructure:"mechanism"`
	Username  string `yaml:"username" mapstructure:"username"`
	// Password, or PasswordEnv naming the environment variable that holds
	// it (one of the two). PasswordEnv keeps the secret out of config
	// files (a Kubernetes Secret mounted as an environment variable).
	Password    Secret `yaml:"password" mapstructure:"password"`
	PasswordEnv string `yaml:"password_env" mapstructure:"password_env"`
}

// Secret is a string that prints as [REDACTED] (fmt, slog, YAML and JSON
// output), so a config dumped into a log does not leak it.
type Secret string

const redacted = "[REDACTED]"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText is what YAML and JSON encoders write.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Mechanism names franz-go implements and this package accepts.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

func (c *Config) key(name string) string {
	if c.Key != nil {
		return c.Key(name)
	}
	return "kafka." + name
}

// Secured reports whether TLS or SASL is configured.
func (c *Config) Secured() bool { return c.TLS.Enabled || c.SASL.Mechanism != "" }

// Validate checks the settings without touching files, the environment or
// the network (Opts does those); every error names its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", c.key(name), fmt.Sprintf(format, a...)))
	}
	for i, b := range c.Brokers {
		name := fmt.Sprintf("brokers[%d]", i)
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			bad(name, "%q is not host:port", b)
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			bad(name, "%q has no valid port", b)
		}
	}
	t := c.TLS
	if !t.Enabled {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"tls.ca_file", t.CAFile != ""}, {"tls.cert_file", t.CertFile != ""}, {"tls.key_file", t.KeyFile != ""},
			{"tls.server_name", t.ServerName != ""}, {"tls.insecure_skip_verify", t.InsecureSkipVerify},
		} {
			if f.set {
				bad(f.name, "is set but %s is false (set it to true to use TLS)", c.key("tls.enabled"))
			}
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad("tls.cert_file", "and %s go together (a client certificate needs its key)", c.key("tls.key_file"))
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		bad("tls.insecure_skip_verify", "makes %s pointless: the certificate is not checked at all", c.key("tls.ca_file"))
	}
	s := c.SASL
	switch {
	case s.Mechanism == "":
		if s.Username != "" || s.Password != "" || s.PasswordEnv != "" {
			bad("sasl.mechanism", "is required when %s is set (%s, %s or %s)", c.key("sasl.username"),
				MechanismPlain, MechanismScramSHA256, MechanismScramSHA512)
		}
	case mechanism(s.Mechanism) == "":
		bad("sasl.mechanism", "%q is not one of %s, %s, %s", s.Mechanism, MechanismPlain, MechanismScramSHA256, MechanismScramSHA512)
	}
	if s.Mechanism != "" {
		if s.Username == "" {
			bad("sasl.username", "is required with %s", c.key("sasl.mechanism"))
		}
		if s.Password == "" && s.PasswordEnv == "" {
			bad("sasl.password", "or %s is required with %s", c.key("sasl.password_env"), c.key("sasl.mechanism"))
		}
	}
	if s.Password != "" && s.PasswordEnv != "" {
		bad("sasl.password", "and %s are both set: keep one", c.key("sasl.password_env"))
	}
	return errors.Join(errs...)
}

// mechanism returns the canonical name of m, or "" when unknown.
func mechanism(m string) string {
	switch u := strings.ToUpper(strings.TrimSpace(m)); u {
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		return u
	}
	return ""
}

// Opts returns the franz-go options for TLS and SASL (none for plaintext
// without authentication), reading the certificate files and the password
// environment variable now. The seed brokers are not among them: each
// client sets its own. Errors name the key and never hold the password.
func (c *Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var opts []kgo.Opt
	if c.TLS.Enabled {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		pass := string(c.SASL.Password)
		if env := c.SASL.PasswordEnv; env != "" {
			if pass = os.Getenv(env); pass == "" {
				return nil, fmt.Errorf("cannot read the sasl password: %s names the environment variable %s, which is not set or empty",
					c.key("sasl.password_env"), env)
			}
		}
		user := c.SASL.Username
		switch mechanism(c.SASL.Mechanism) {
		case MechanismPlain:
			opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case MechanismScramSHA256:
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case MechanismScramSHA512:
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		}
	}
	return opts, nil
}

// tlsConfig builds the client TLS configuration from the files.
func (c *Config) tlsConfig() (*tls.Config, error) {
	t := c.TLS
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // insecure_skip_verify is the user's explicit choice
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", c.key("tls.ca_file"), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cannot use %s %s: it holds no PEM certificate", c.key("tls.ca_file"), t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot load the client certificate of %s and %s: %w", c.key("tls.cert_file"), c.key("tls.key_file"), err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
