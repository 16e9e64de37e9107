;;; eglot.el --- drive envls from Emacs + eglot in batch mode  -*- lexical-binding: t -*-
;;
;;   emacs --batch -Q -l tests/editors/eglot.el
;;
;; Written for Debian bookworm's Emacs 28.2 with elpa-eglot (eglot 1.9); newer eglots should work too.
;;
;; Input (environment variables):
;;   ENVLS_SERVER_CMD   the server command as a JSON list, e.g. ["/venv/bin/python", "-m", "envls", "serve"]
;;   ENVLS_FILE         the environment.yml to open (see tests/test_editors.py for its exact content)
;;   ENVLS_FRESH_FILE   a second environment file with only `name:' and an empty line (for completion)
;;   ENVLS_ROOT         the project root (a directory above both files)
;;   ENVLS_OUT          where to write the results, as JSON
;;   ENVLS_TIMEOUT_MS   the bound for each wait (default 20000)
;;
;; The script records what it sees; tests/test_editors.py makes the assertions.  It always writes
;; ENVLS_OUT (with `error' set when a step failed) and exits 0, or 1 after an error.
;;
;; Batch-mode notes:
;; - Debian's elpa-* packages are not on `load-path' under -Q, and `package-initialize' does not
;;   add them: the directories are added by hand.
;; - Idle timers never fire in batch mode, so eglot's debounced didChange (an idle timer) and
;;   Flymake's idle-time checks do not run by themselves: the script calls what they would call,
;;   `eglot--signal-textDocument/didChange' and `flymake-start'.
;; - eglot 1.9's `eglot-shutdown' deletes the server process right after sending `exit' (through
;;   `jsonrpc-shutdown'), so it cannot tell whether the server exits by itself.  The script sends
;;   shutdown + exit itself, waits for the process to end, and only then lets jsonrpc clean up.

(dolist (dir (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/*"))
  (add-to-list 'load-path dir))
(require 'json)
(require 'eglot)
(require 'flymake)
(require 'project)
(require 'cl-lib)

(defvar envls-timeout
  (/ (string-to-number (or (getenv "ENVLS_TIMEOUT_MS") "20000")) 1000.0))
(defvar envls-result nil "Alist of results, newest first.")
(defvar envls-published nil "URI -> plist of the last publishDiagnostics seen for it.")
(defvar envls-messages nil "window/showMessage and window/logMessage notifications.")
(defvar envls-steps nil "One alist per diagnostics step, newest first.")

(defun envls-put (key value) (push (cons key value) envls-result))

(defun envls-env (name)
  (or (getenv name) (error "%s is not set" name)))

(defun envls-wait (predicate &optional timeout)
  "Wait until PREDICATE returns non-nil or TIMEOUT seconds pass; return (OK . ELAPSED-MS)."
  (let ((t0 (float-time)) (limit (or timeout envls-timeout)) ok)
    (while (and (not (setq ok (funcall predicate))) (< (- (float-time) t0) limit))
      (accept-process-output nil 0.01))
    (cons (and ok t) (round (* 1000 (- (float-time) t0))))))

(defun envls-bool (value) (if value t :json-false))

;; Define a major mode for environment files: Emacs 28 has no yaml mode.
(define-derived-mode conda-env-mode prog-mode "conda-env")
(add-to-list 'auto-mode-alist '("environment[^/]*\\.ya?ml\\'" . conda-env-mode))

;; Record the raw notifications (the version the server says its diagnostics belong to, and messages).
(advice-add 'eglot-handle-notification :before
            (lambda (_server method &rest params)
              (pcase method
                ('textDocument/publishDiagnostics
                 (setq envls-published
                       (cons (cons (plist-get params :uri)
                                   (list :version (plist-get params :version)
                                         :diagnostics (envls-raw-diagnostics (plist-get params :diagnostics))))
                             envls-published)))
                ((or 'window/showMessage 'window/logMessage)
                 (push `((kind . ,(symbol-name method)) (type . ,(plist-get params :type))
                         (message . ,(plist-get params :message)))
                       envls-messages))))
            '((name . envls-record)))

(defun envls-raw-diagnostics (diagnostics)
  "The LSP ranges (in the negotiated encoding) and codes of published DIAGNOSTICS."
  (vconcat
   (mapcar (lambda (d)
             (let* ((range (plist-get d :range)) (start (plist-get range :start)) (end (plist-get range :end)))
               `((code . ,(plist-get d :code))
                 (line . ,(plist-get start :line)) (character . ,(plist-get start :character))
                 (end_line . ,(plist-get end :line)) (end_character . ,(plist-get end :character)))))
           diagnostics)))

(defun envls-last-published (uri)
  (cdr (assoc uri envls-published)))

(defun envls-position (pos)
  "0-based (LINE . CHARACTER) of buffer position POS; CHARACTER counts Emacs characters (code points)."
  (save-excursion
    (goto-char pos)
    (cons (1- (line-number-at-pos pos t)) (- pos (line-beginning-position)))))

(defun envls-flymake-diagnostics ()
  "The buffer's Flymake diagnostics, in order, as JSON-ready alists."
  (vconcat
   (mapcar (lambda (d)
             (let ((beg (envls-position (flymake-diagnostic-beg d)))
                   (end (envls-position (flymake-diagnostic-end d)))
                   (lsp (alist-get 'eglot-lsp-diag (flymake-diagnostic-data d))))
               `((type . ,(symbol-name (flymake-diagnostic-type d)))
                 (line . ,(car beg)) (col . ,(cdr beg))
                 (end_line . ,(car end)) (end_col . ,(cdr end))
                 (text . ,(flymake-diagnostic-text d))
                 (code . ,(plist-get lsp :code)))))
           (sort (flymake-diagnostics) (lambda (a b) (< (flymake-diagnostic-beg a) (flymake-diagnostic-beg b)))))))

(defun envls-await-diagnostics (name)
  "Wait for the publication for the buffer's current version, hand it to Flymake, record a step."
  (let* ((uri (eglot--path-to-uri (buffer-file-name)))
         (version eglot--versioned-identifier)
         (waited (envls-wait (lambda ()
                               (let ((last (envls-last-published uri)))
                                 (and last (equal (plist-get last :version) version)))))))
    (flymake-start) ; eglot's backend reports the stored diagnostics synchronously
    (envls-wait (lambda () (memq 'eglot-flymake-backend (flymake-reporting-backends))))
    (push `((name . ,name) (ok . ,(envls-bool (car waited))) (ms . ,(cdr waited))
            (version . ,version)
            (published_version . ,(plist-get (envls-last-published uri) :version))
            (published . ,(or (plist-get (envls-last-published uri) :diagnostics) []))
            (diagnostics . ,(envls-flymake-diagnostics)))
          envls-steps)
    (unless (car waited)
      (error "%s: no publishDiagnostics for version %s within %s s (last: %S)"
             name version envls-timeout (envls-last-published uri)))))

(defun envls-goto (line column)
  "Go to 0-based LINE and COLUMN."
  (goto-char (point-min))
  (forward-line line)
  (move-to-column column))

(defun envls-complete-here ()
  "Completion through eglot's completion-at-point function, as a user's completion UI would ask."
  (let* ((t0 (float-time))
         (capf (eglot-completion-at-point))
         (labels (and capf (all-completions "" (nth 2 capf)))))
    `((ok . ,(envls-bool capf)) (ms . ,(round (* 1000 (- (float-time) t0))))
      (labels . ,(vconcat (mapcar #'substring-no-properties labels))))))

(defun envls-main ()
  (let* ((contact (append (json-read-from-string (envls-env "ENVLS_SERVER_CMD")) nil))
         (file (expand-file-name (envls-env "ENVLS_FILE")))
         (fresh (expand-file-name (envls-env "ENVLS_FRESH_FILE")))
         (root (file-name-as-directory (expand-file-name (envls-env "ENVLS_ROOT"))))
         (eglot-sync-connect envls-timeout)
         (eglot-connect-timeout envls-timeout)
         (eglot-autoreconnect nil)
         server proc)
    ;; Files below ENVLS_ROOT form one project, as a VC root would.
    (add-hook 'project-find-functions
              (lambda (dir) (when (file-in-directory-p dir root) (cons 'transient root))))
    (add-to-list 'eglot-server-programs (cons 'conda-env-mode contact))
    (envls-put 'emacs_version emacs-version)
    (envls-put 'eglot_library (locate-library "eglot"))

    ;; 1. open the file and start eglot for it (synchronously: `eglot-sync-connect')
    (find-file file)
    (envls-put 'major_mode (symbol-name major-mode))
    (let ((t0 (float-time)))
      (setq server (eglot '(conda-env-mode) (project-current) 'eglot-lsp-server contact "yaml"))
      (envls-put 'connect_ms (round (* 1000 (- (float-time) t0)))))
    (unless (and server (jsonrpc-running-p server) (eglot--capabilities server))
      (error "eglot did not connect to the server within %s s (initialize unanswered, or the server died)"
             envls-timeout))
    (setq proc (jsonrpc--process server))
    (envls-put 'managed (envls-bool eglot--managed-mode))
    (envls-put 'server_info (eglot--server-info server))
    (envls-put 'capabilities
               `((completion . ,(envls-bool (eglot--server-capable :completionProvider)))
                 (hover . ,(envls-bool (eglot--server-capable :hoverProvider)))
                 (code_action . ,(envls-bool (eglot--server-capable :codeActionProvider)))
                 (position_encoding . ,(eglot--server-capable :positionEncoding))))
    (envls-await-diagnostics "open")

    ;; 2. completion at column 0 of the empty line 1 (the file already has name, channels, dependencies)
    (envls-goto 1 0)
    (envls-put 'completion_existing (envls-complete-here))

    ;; 3. hover on the `channels' key
    (envls-goto 2 3)
    (let ((hover (jsonrpc-request server :textDocument/hover (eglot--TextDocumentPositionParams)
                                  :timeout envls-timeout)))
      (envls-put 'hover `((markdown . ,(plist-get (plist-get hover :contents) :value)))))

    ;; 4. fix `python==3.9' in the buffer; eglot sends the change, the diagnostics follow
    (envls-goto 5 0)
    (unless (search-forward "python==3.9" (line-end-position) t)
      (error "line 5 is not the python line: %S" (thing-at-point 'line t)))
    (replace-match "python=3.9" t t)
    (eglot--signal-textDocument/didChange) ; what eglot's idle timer does, see the notes above
    (envls-await-diagnostics "fix-python-spec")

    ;; 4b. non-ASCII text before diagnostics on one line (eglot 1.9 counts LSP columns in UTF-16),
    ;; then an insertion right after the emoji, sent as a UTF-16 range
    (envls-goto 2 0)
    (delete-region (point) (progn (forward-line 2) (point)))
    (insert "channels: [\"\u00e9-\U0001F40D\", conda-forge, conda-forge]\n")
    (eglot--signal-textDocument/didChange)
    (envls-await-diagnostics "non-ascii-line")
    (envls-goto 2 0)
    (search-forward "\U0001F40D")
    (insert "x")
    (eglot--signal-textDocument/didChange)
    (envls-await-diagnostics "insert-after-emoji")

    ;; 5. a second file in the same project: eglot manages it through the same server
    (with-current-buffer (find-file-noselect fresh)
      (envls-put 'fresh_managed (envls-bool eglot--managed-mode))
      (envls-goto 1 0)
      (envls-put 'completion_fresh (envls-complete-here)))

    ;; 6. shutdown + exit, then wait for the server process to end by itself
    (let ((t0 (float-time)) shutdown-error)
      (setf (eglot--shutdown-requested server) t)
      (condition-case err
          (progn
            (jsonrpc-request server :shutdown nil :timeout envls-timeout)
            (jsonrpc-notify server :exit nil))
        (error (setq shutdown-error (error-message-string err))))
      (let ((waited (envls-wait (lambda () (not (process-live-p proc))))))
        (envls-put 'stop `((ok . ,(envls-bool (car waited))) (ms . ,(round (* 1000 (- (float-time) t0))))
                           (error . ,shutdown-error)
                           (status . ,(symbol-name (process-status proc)))
                           (exit_code . ,(process-exit-status proc)))))
      (envls-put 'server_stderr (envls-stderr server))
      (jsonrpc-shutdown server t))))

(defun envls-stderr (server)
  "What SERVER wrote to stderr (eglot keeps it in a buffer)."
  (let ((buf (and server (ignore-errors (jsonrpc-stderr-buffer server)))))
    (if (buffer-live-p buf) (with-current-buffer buf (buffer-string)) "")))

(defun envls-write-result (out)
  (envls-put 'steps (vconcat (reverse envls-steps)))
  (envls-put 'messages (vconcat (reverse envls-messages)))
  (let ((coding-system-for-write 'utf-8))
    (with-temp-file out
      (insert (json-encode (reverse envls-result))))))

(let ((out (envls-env "ENVLS_OUT"))
      (failed nil))
  (condition-case err
      (envls-main)
    (error
     (setq failed t)
     (envls-put 'error (format "%S" err))
     ;; Keep eglot's events buffer (the JSON-RPC traffic) for the test's failure message.
     (let ((events (cl-loop for buf in (buffer-list)
                            when (string-match-p "EGLOT.*events" (buffer-name buf))
                            concat (with-current-buffer buf (buffer-string)))))
       (envls-put 'events (substring events (max 0 (- (length events) 8000)))))
     (envls-put 'server_stderr
                (cl-loop for buf in (buffer-list)
                         when (string-match-p "EGLOT.*stderr" (buffer-name buf))
                         concat (with-current-buffer buf (buffer-string))))))
  (envls-write-result out)
  ;; Kill what is left without its sentinel: for a server whose connection is still pending,
  ;; eglot's sentinel runs a failure callback that signals, and that ends a batch Emacs with 255.
  (dolist (p (process-list))
    (when (process-live-p p)
      (set-process-sentinel p #'ignore)
      (delete-process p)))
  (kill-emacs (if failed 1 0)))
