package activator

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxQRVersion is the largest QR code a request should need at error
// correction level M: a version-25 code (117 modules) still scans from a
// screen with an ordinary phone.
const MaxQRVersion = 25

// QRCode renders the request's QR text as a PNG at error correction level
// M, eight pixels a module, and returns the QR version used. A request
// larger than MaxQRVersion still renders, and the caller should say that
// the file is the more reliable way to carry it.
func (r *Request) QRCode() (png []byte, version int, err error) {
	q, err := qrcode.New(r.QRText, qrcode.Medium)
	if err != nil {
		return nil, 0, fmt.Errorf("QR code: %v", err)
	}
	png, err = q.PNG(-8)
	if err != nil {
		return nil, 0, fmt.Errorf("QR code: %v", err)
	}
	return png, q.VersionNumber, nil
}

// QRTerminal renders the request's QR text with Unicode half blocks for a
// terminal. dark selects colours for a dark background (light text).
func (r *Request) QRTerminal(dark bool) (string, error) {
	q, err := qrcode.New(r.QRText, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("QR code: %v", err)
	}
	return q.ToSmallString(!dark), nil
}
