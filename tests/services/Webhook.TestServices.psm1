# A scripted stand-in for a Slack incoming webhook: a real HTTP server on 127.0.0.1 (System.Net.HttpListener
# in its own runspace of this process) that records every request and answers the status codes it is told.
#
#   $hook = Start-TestWebhookListener -Responses 500, 500, 200 [-RetryAfter 2] [-ErrorBody no_service] [-DelayMs n]
#   ... Send-VaultNotification -WebhookUrl (ConvertTo-SecureString $hook.Url -AsPlainText -Force) ...
#   Get-TestWebhookRequests $hook      # Index, Method, Path, ContentType, Body, Json, ReceivedMs, Status
#   Stop-TestWebhookListener $hook
#
# The n-th request gets the n-th status of -Responses; after the list, the last one again (so -Responses 500
# fails forever, and 500, 500, 200 succeeds from the third request on). -RetryAfter is sent with every answer
# that is not 2xx. The server is bounded: it stops by itself after -LifetimeSec or -MaxRequests.
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestMachine.psm1')

$script:Running = [System.Collections.Generic.List[object]]::new()

$script:ServerScript = {
    param($State)
    $listener = [System.Net.HttpListener]::new()
    $listener.Prefixes.Add($State.Prefix)
    try {
        $listener.Start()
    }
    catch {
        $State.StartError = $_.Exception.Message
        [void]$State.Started.Set()
        return
    }
    $State.Listener = $listener
    [void]$State.Started.Set()
    $utf8 = [System.Text.UTF8Encoding]::new($false)
    try {
        while (-not $State.StopRequested -and $State.Clock.Elapsed.TotalSeconds -lt $State.LifetimeSec -and $State.Requests.Count -lt $State.MaxRequests) {
            $pending = $listener.GetContextAsync()
            # Wake up regularly to see whether Stop or the lifetime ended the server.
            while (-not $pending.Wait(100)) {
                if ($State.StopRequested -or $State.Clock.Elapsed.TotalSeconds -ge $State.LifetimeSec) { return }
            }
            $context = $pending.Result
            $received = $State.Clock.Elapsed.TotalMilliseconds
            try {
                $reader = [System.IO.StreamReader]::new($context.Request.InputStream, $utf8)
                $body = $reader.ReadToEnd()
                $reader.Dispose()
                $index = $State.Requests.Count
                $status = if ($index -lt $State.Responses.Count) { $State.Responses[$index] } else { $State.Responses[-1] }
                [void]$State.Requests.Add([pscustomobject]@{
                        Index       = $index
                        Method      = $context.Request.HttpMethod
                        Path        = $context.Request.Url.AbsolutePath
                        ContentType = $context.Request.ContentType
                        UserAgent   = $context.Request.UserAgent
                        Body        = $body
                        ReceivedMs  = $received
                        ReceivedAt  = [DateTimeOffset]::UtcNow
                        Status      = $status
                    })
                if ($State.DelayMs -gt 0) { Start-Sleep -Milliseconds $State.DelayMs }
                $response = $context.Response
                $response.StatusCode = $status
                $text = if ($status -ge 200 -and $status -le 299) { 'ok' } else { $State.ErrorBody }
                if ($status -notin 200..299 -and $State.RetryAfter) { $response.AddHeader('Retry-After', $State.RetryAfter) }
                $bytes = $utf8.GetBytes($text)
                $response.ContentType = 'text/plain; charset=utf-8'
                $response.ContentLength64 = $bytes.Length
                $response.OutputStream.Write($bytes, 0, $bytes.Length)
                $response.Close()
            }
            catch {
                # The client gave up (its timeout) while we answered; record it and go on.
                $State.Faults.Add($_.Exception.Message) | Out-Null
                try { $context.Response.Abort() } catch { }
            }
        }
    }
    finally {
        try { $listener.Stop(); $listener.Close() } catch { }
    }
}

# The name this module gave Get-FreeTcpPort (TestMachine.psm1) before there was one for all the services.
Set-Alias -Name Get-FreeLoopbackPort -Value Get-FreeTcpPort

function Start-TestWebhookListener {
    <#
    .SYNOPSIS
        Starts a webhook stand-in on 127.0.0.1 and returns Url (with a planted secret token in its path), Token,
        BaseUrl, Port and the state Get-TestWebhookRequests and Stop-TestWebhookListener need.
    #>
    [CmdletBinding()]
    param(
        [ValidateRange(100, 599)]
        [int[]] $Responses = @(200),

        # Retry-After value for answers that are not 2xx: delay-seconds or an HTTP date.
        [string] $RetryAfter,

        # The body of answers that are not 2xx (Slack sends plain words such as invalid_token or no_service).
        [string] $ErrorBody = 'server_error',

        # Wait this long before answering each request (to make clients time out).
        [ValidateRange(0, 60000)]
        [int] $DelayMs = 0,

        [ValidateRange(1, 10000)]
        [int] $MaxRequests = 200,

        [ValidateRange(1, 3600)]
        [int] $LifetimeSec = 300,

        [ValidateRange(1, 60)]
        [int] $TimeoutSec = 10
    )

    $token = 'PLANTED' + [guid]::NewGuid().ToString('N').Substring(0, 20).ToUpperInvariant()
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    # A free port can be taken between the probe and the bind: try a few.
    for ($try = 1; $try -le 5; $try++) {
        $port = Get-FreeTcpPort
        $state = [hashtable]::Synchronized(@{
                Prefix        = "http://127.0.0.1:$port/"
                Responses     = [int[]]$Responses
                RetryAfter    = $RetryAfter
                ErrorBody     = $ErrorBody
                DelayMs       = $DelayMs
                MaxRequests   = $MaxRequests
                LifetimeSec   = $LifetimeSec
                Requests      = [System.Collections.ArrayList]::Synchronized([System.Collections.ArrayList]::new())
                Faults        = [System.Collections.ArrayList]::Synchronized([System.Collections.ArrayList]::new())
                Started       = [System.Threading.ManualResetEventSlim]::new($false)
                StartError    = $null
                StopRequested = $false
                Listener      = $null
                Clock         = $clock
            })
        $runspace = [runspacefactory]::CreateRunspace()
        $runspace.Open()
        $ps = [powershell]::Create()
        $ps.Runspace = $runspace
        [void]$ps.AddScript($script:ServerScript).AddArgument($state)
        $handle = $ps.BeginInvoke()
        if (-not $state.Started.Wait([TimeSpan]::FromSeconds($TimeoutSec))) {
            $ps.Stop(); $ps.Dispose(); $runspace.Dispose()
            throw "The test webhook listener did not start within $TimeoutSec s."
        }
        if (-not $state.StartError) {
            $hook = [pscustomobject]@{
                Port       = $port
                BaseUrl    = "http://127.0.0.1:$port"
                Url        = "http://127.0.0.1:$port/services/T0TESTTEAM/B0TESTHOOK/$token"
                Token      = $token
                State      = $state
                PowerShell = $ps
                Handle     = $handle
                Runspace   = $runspace
            }
            $script:Running.Add($hook)
            return $hook
        }
        $ps.Dispose(); $runspace.Dispose()
        Write-Verbose "Port $port was taken ($($state.StartError)); trying another."
    }
    throw "The test webhook listener could not bind a port on 127.0.0.1 after 5 tries: $($state.StartError)"
}

function Get-TestWebhookRequests {
    <# .SYNOPSIS What the listener has received so far, oldest first; Json is the parsed body (or $null). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Listener)

    foreach ($request in @($Listener.State.Requests.ToArray())) {
        $json = $null
        try { $json = $request.Body | ConvertFrom-Json -Depth 20 -ErrorAction Stop } catch { }
        $request | Select-Object *, @{ Name = 'Json'; Expression = { $json } }
    }
}

function Stop-TestWebhookListener {
    <# .SYNOPSIS Stops the listener (idempotent; $null is fine) within a few seconds at most. #>
    [CmdletBinding()]
    param([Parameter(Position = 0)] $Listener)

    if (-not $Listener -or -not $Listener.PowerShell) { return }
    $Listener.State.StopRequested = $true
    try { if ($Listener.State.Listener) { $Listener.State.Listener.Stop() } } catch { }
    if (-not $Listener.Handle.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(5))) {
        $Listener.PowerShell.Stop()
    }
    try { $Listener.PowerShell.Dispose() } catch { }
    try { $Listener.Runspace.Dispose() } catch { }
    $Listener.PowerShell = $null
    [void]$script:Running.Remove($Listener)
}

function Stop-AllTestWebhookListeners {
    foreach ($hook in @($script:Running.ToArray())) { Stop-TestWebhookListener $hook }
}

Export-ModuleMember -Function Start-TestWebhookListener, Get-TestWebhookRequests, Stop-TestWebhookListener, Stop-AllTestWebhookListeners, Get-FreeTcpPort -Alias Get-FreeLoopbackPort
