package config

import (
	_ "embed"
	"io"
)

//go:embed template.toml
var answersTemplate string

// AnswersTemplate is the commented answers file printed by
// `tappaas install --print-answers`: every key, its default, what it means.
func AnswersTemplate() string { return answersTemplate }

// WriteTemplate writes AnswersTemplate to w.
func WriteTemplate(w io.Writer) error {
	_, err := io.WriteString(w, answersTemplate)
	return err
}
