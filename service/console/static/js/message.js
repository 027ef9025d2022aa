// The console's one line of news: an error, or a notice, shown until the next one.

let next = null; // what to say once the next page is shown ([text, kind])

export function say(text, kind = "error") {
  const line = document.getElementById("message");
  line.hidden = !text;
  line.textContent = text || "";
  line.className = kind;
}

export function sayProblem(error) {
  say(error && error.message ? error.message : String(error));
}

// A handler that says a page's problem only while that page (its element `view`) is shown: an
// answer that arrives after a navigation is not the new page's news.
export function sayProblemWhileShown(view) {
  return (error) => {
    if (view.isConnected) sayProblem(error);
  };
}

// `text` to be said on the page about to be shown (a navigation clears the line).
export function sayOnNextPage(text, kind = "notice") {
  next = [text, kind];
}

// Called as a page is shown: says what was kept for it, or clears the line.
export function pageShown() {
  say(...(next || [""]));
  next = null;
}
