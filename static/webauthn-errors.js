// Security-key prompts that fail (cancelled, timed out, a key this account does
// not know, a key added twice, a site name the browser refuses) say so on the
// page, in plain words, instead of only in the browser console. allauth's
// webauthn.js announces each failure as an "allauth.error" event.
(function () {
  const MESSAGES = {
    NotAllowedError: 'The security key prompt was cancelled or timed out, or this key is not one ' +
      'registered for your account. Try again, or use another key or a recovery code.',
    InvalidStateError: 'This security key is already registered for your account.',
    SecurityError: 'Your browser refused security keys on this address. Open Ombud on its ' +
      'https:// address (or http://localhost when testing) and try again.',
    NotSupportedError: 'This browser or key does not support what is needed. Try another key ' +
      'or browser, or use a code.',
    AbortError: 'The security key prompt was cancelled. Try again when you are ready.'
  }
  const FALLBACK = 'Using the security key did not work. Try again, or use another key or a code.'

  function problemBox () {
    let box = document.getElementById('webauthn-problem')
    if (!box) {
      box = document.createElement('div')
      box.id = 'webauthn-problem'
      box.className = 'errors'
      box.setAttribute('role', 'alert')
      const main = document.querySelector('main') || document.body
      const heading = main.querySelector('h1')
      if (heading) heading.after(box)
      else main.prepend(box)
    }
    return box
  }

  document.addEventListener('allauth.error', function (event) {
    const tags = (event.detail && event.detail.tags) || []
    if (tags.indexOf('webauthn') === -1) return
    event.preventDefault()
    const exception = event.detail.exception || {}
    const box = problemBox()
    box.textContent = MESSAGES[exception.name] || FALLBACK
    box.hidden = false
    box.focus && box.setAttribute('tabindex', '-1')
    box.focus && box.focus()
  })
})()
