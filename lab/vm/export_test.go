package vm

// CshCheckForTest exposes cshCheck to the external tests.
var CshCheckForTest = cshCheck
