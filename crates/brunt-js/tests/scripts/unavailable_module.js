// A module brunt will not have fails at import (exit 107), as an unknown module does in k6.
import { browser } from 'k6/x/browserless';

export default function () {
  browser.newPage();
}
