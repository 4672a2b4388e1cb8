package issuer

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/airlock-license/airlock/format"
)

// GPGSigner signs with a key held by GnuPG: a key in the keyring, on a
// smartcard or token behind gpg-agent, or anything else gpg can use. It
// honours GNUPGHOME. It implements [format.Signer]; [format.Sign] checks
// each message it produces exactly as a host will.
type GPGSigner struct {
	gpg string
	fpr format.KeyFingerprint
	pub *format.PublicKey
}

// NewGPGSigner finds the key with fingerprint fpr in GnuPG and exports its
// public part; gpg is the program ("" means "gpg" from PATH).
func NewGPGSigner(gpg, fpr string) (*GPGSigner, error) {
	if gpg == "" {
		gpg = "gpg"
	}
	f, err := format.ParseKeyFingerprint(fpr)
	if err != nil {
		return nil, fmt.Errorf("--gpg-key: %v (use the full fingerprint, as gpg --list-keys --with-colons shows it)", err)
	}
	out, err := exec.Command(gpg, "--batch", "--export", string(f)).Output()
	if err != nil {
		return nil, fmt.Errorf("gpg --export %s: %v", f, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("GnuPG has no key %s (check GNUPGHOME)", f)
	}
	set, err := format.ParseKeySet(out)
	if err != nil {
		return nil, fmt.Errorf("the GnuPG key %s cannot sign for airlock: %v", f, err)
	}
	pub := set.Lookup(f)
	if pub == nil {
		return nil, fmt.Errorf("%s is not a primary key in GnuPG (a subkey's fingerprint?); give the primary key's fingerprint", f)
	}
	if exp, ok := pub.Expires(time.Now()); ok {
		return nil, fmt.Errorf("the GnuPG key %s expires on %s, and every licence it signs would stop verifying then; remove the expiry first (gpg --quick-set-expire %s 0, and for its signing subkey too)",
			f, exp.Format("2006-01-02"), f)
	}
	return &GPGSigner{gpg: gpg, fpr: f, pub: pub}, nil
}

// Public implements [format.Signer].
func (g *GPGSigner) Public() *format.PublicKey { return g.pub }

// SignMessage implements [format.Signer]: gpg signs standard input, binary,
// uncompressed, over SHA-512, with no file name in the literal data. gpg
// dates the signature by its own clock; now is not used.
func (g *GPGSigner) SignMessage(payload []byte, now time.Time) ([]byte, error) {
	cmd := exec.Command(g.gpg, "--batch", "--no-tty", "--yes", "--local-user", string(g.fpr),
		"--sign", "--compress-algo", "none", "--digest-algo", "SHA512", "--set-filename", "", "--output", "-")
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Env = gpgEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("gpg --sign: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// gpgEnv is the environment for gpg: GPG_TTY names the controlling
// terminal, without which pinentry cannot ask for a passphrase or a
// smartcard PIN ("Inappropriate ioctl for device").
func gpgEnv() []string {
	env := os.Environ()
	if os.Getenv("GPG_TTY") != "" {
		return env
	}
	for _, fd := range []string{"0", "1", "2"} {
		if t, err := os.Readlink("/proc/self/fd/" + fd); err == nil && (strings.HasPrefix(t, "/dev/pts/") || strings.HasPrefix(t, "/dev/tty")) {
			return append(env, "GPG_TTY="+t)
		}
	}
	return env
}
