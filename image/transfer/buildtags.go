package transfer

// A build without lodger's tags fails here at once, with a message.
import _ "github.com/lodger-containers/lodger/internal/buildtags"
