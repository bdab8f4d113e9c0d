// json.cc: placeholder, being written.
