// base64.cc: placeholder, being written.
