package lab

import (
	"io"
	"log"
)

// quietLog discards net/http's server error log (TLS handshake noise from
// clients that reject the certificate, which tests do on purpose).
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
