# A guided session driven through a terminal: a real pwsh inside tmux (a server on a socket of this suite), as an
# on-call engineer runs it, against the sample backend v1.2.3 under PM2 on this machine. Invoke-VaultRunbook shows
# each step and asks before those that change the target; the answers are typed with tmux send-keys after the pane
# shows each question. The run is stopped with Rollback after the stop, and the test process then checks that the
# old version serves and that the journal reads the run back with its steps and the rollback. In the same terminal:
# Invoke-VaultDeployment asks first (ConfirmImpact High) and N changes nothing; Unlock-VaultDeployment -Force on a
# lock that another run takes while the question is shown removes nothing (LockChanged); and examples/incident-session.ps1
# asks only before the runbook's steps there.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/SampleArtifacts.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'OnCallCommon.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Tmux = (Get-Command tmux -CommandType Application -ErrorAction Ignore | Select-Object -First 1).Source
    if (-not $Tmux) { throw 'tmux is not installed: ./build.ps1 -Task Bootstrap installs it (apt-get install -y tmux).' }

    $script:Stack = New-OnCallStack -Tags 'v1.3.0' -Name oncall-tty
    $script:W = New-OnCallWorkspace -Stack $Stack -TargetName tty-1
    $script:wp = $W.Params
    $script:T = New-VaultTarget @wp
    $script:Art = Wait-OnCallArtifacts $Stack

    # The session's start: the built module and $t, the target. No profile; $ConfirmPreference stays at its default.
    $init = Join-Path $W.Directory 'session-init.ps1'
    $params = ($W.Params.GetEnumerator() | ForEach-Object { "$($_.Key) = '$($_.Value)'" }) -join '; '
    Set-Content -LiteralPath $init -Value @"
`$PSStyle.OutputRendering = 'PlainText'
Import-Module '$(Get-VaultModuleManifest)'
`$p = @{ $params }
`$t = New-VaultTarget @p
`$artifact = '$($Art['v1.3.0'].Artifact)'; `$sha = '$($Art['v1.3.0'].Sha256)'
"@
    $script:Socket = 'yv-oncall-' + [guid]::NewGuid().ToString('N').Substring(0, 10)
    & $Tmux -L $Socket new-session -d -x 200 -y 50 -s oncall (Get-PwshPath) -NoProfile -NoLogo -NoExit -Command ". '$init'"
    if ($LASTEXITCODE -ne 0) { throw "tmux new-session failed ($LASTEXITCODE)." }

    function Get-Pane { (& $Tmux -L $Socket capture-pane -p -J -t oncall -S - -E -) -join "`n" }
    function Send-Line([string] $Text) {
        & $Tmux -L $Socket send-keys -t oncall -l -- $Text
        & $Tmux -L $Socket send-keys -t oncall Enter
    }
    # Waits until the pane shows -Text at least -Count times (a question asked again shows again), and with -Question
    # until the choices after it are shown in full (the host then reads the answer); bounded.
    function Wait-Pane([string] $Text, [int] $Count = 1, [double] $TimeoutSec = 90, [switch] $Question) {
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        while ($true) {
            $pane = Get-Pane
            if (([regex]::Matches($pane, [regex]::Escape($Text))).Count -ge $Count -and
                (-not $Question -or $pane.Substring($pane.LastIndexOf($Text)) -match 'Help \(default is "\w"\):')) { return $pane }
            if ([DateTime]::UtcNow -ge $deadline) { throw "The terminal did not show '$Text' (x$Count) within $TimeoutSec s. It shows:`n$pane" }
            Start-Sleep -Milliseconds 250
        }
    }
    # Runs a line in the session and waits for its end: a marker the line prints, spelled so its echo does not match.
    $script:Marks = 0
    function Invoke-Line([string] $Text, [double] $TimeoutSec = 90) {
        $script:Marks++
        Send-Line "$Text; 'yv-' + 'done-$Marks'"
        Wait-Pane "yv-done-$Marks" -TimeoutSec $TimeoutSec
    }
    # Typed only once the session reads input (its prompt is shown): keys typed earlier may be lost.
    $null = Wait-Pane 'PS ' -TimeoutSec 60
    $null = Invoke-Line '$ConfirmPreference; $t.Name' -TimeoutSec 60
}

AfterAll {
    if ($script:Tmux -and $script:Socket) {
        & $Tmux -L $Socket kill-server 2>$null
        # The pwsh in the pane ends with its server (SIGHUP); the socket file stays behind unless removed.
        $init = Join-Path $W.Directory 'session-init.ps1'
        foreach ($id in @(& pgrep -f $init)) { & kill -9 $id }
        $uid = (& id -u).Trim()
        Remove-Item -LiteralPath (Join-Path ($env:TMUX_TMPDIR ?? '/tmp') "tmux-$uid/$Socket") -ErrorAction Ignore
    }
    Stop-OnCallStack $script:Stack
    Stop-AllTestServices
}

Describe 'A guided session in a terminal' {
    It 'is an interactive pwsh with the default $ConfirmPreference' {
        $pane = Get-Pane
        # capture-pane -J joins a row the terminal marked as wrapped (PSReadLine can pad the input row to the pane's
        # width), so "High" may follow the command on the same joined line: compare the words, not the rows.
        ($pane -replace '\s+', ' ') | Should-BeLikeString "*'yv-' + 'done-1' High tty-1 yv-done-1 *"
    }

    It 'Invoke-VaultRunbook asks step by step; Rollback after the stop brings the old version back, and the journal says so' {
        $before = Get-OnCallServed $W
        $before.Version | Should-Be '1.2.3'
        Send-Line '$r = $t | Invoke-VaultRunbook -Artifact $artifact -Sha256 $sha'
        $pane = Wait-Pane "Run 'Lock and journal'?" -Question
        # Step 1 (assess) only reads: shown, not asked.
        $pane | Should-BeLikeString '*Step 1/10  Assess current state  `[runbook Step 1, target 5 min`]*-> Succeeded in*'
        $pane | Should-NotBeLikeString "*Run 'Assess current state'?*"
        $pane | Should-BeLikeString '*`[Y`] Yes  `[A`] Yes to All  `[B`] Rollback*'
        Send-Line 'Y'
        $pane = Wait-Pane "Run 'Back up'?" -Question
        $pane | Should-BeLikeString '*`[Y`] Yes  `[A`] Yes to All  `[S`] Skip  `[B`] Rollback*' -Because 'the backup may be left out'
        Send-Line 'Y'
        foreach ($step in 'Prepare new version (old one serves)', 'Check environment and migrate', 'Stop current service') {
            $null = Wait-Pane "Run '$step'?" -Question
            Send-Line 'Y'
        }
        $pane = Wait-Pane "Run 'Switch and start new version'?" -Question
        # Stopped, not yet switched: nothing serves while the question is shown.
        (Get-OnCallServed $W).Health | Should-Be 0 -Because 'the old version is stopped'
        Send-Line 'B'
        $null = Wait-Pane ': RolledBack (StoppedByOperator)' -TimeoutSec 120
        $pane = Wait-Pane 'and was rolled back;' -TimeoutSec 30
        $runId = [regex]::Match($pane, 'Run (\d{8}T\d{6}Z-[0-9a-f]{6}): RolledBack').Groups[1].Value
        $runId | Should-NotBeEmptyString
        $pane | Should-BeLikeString "*Journal: * (Get-VaultDeploymentJournal -RunId $runId)*"
        $pane | Should-BeLikeString '*was stopped by the operator and was rolled back; 1.2.3 serves again*'

        $served = Get-OnCallServed $W
        $served.Health | Should-Be 200
        $served.Version | Should-Be '1.2.3'
        Test-Path -LiteralPath $W.Lock | Should-BeFalse

        $j = $T | Get-VaultDeploymentJournal -RunId $runId
        $j.Outcome | Should-Be 'RolledBack'
        $j.Rollback | Should-Be 'Succeeded'
        $j.Detail | Should-BeLikeString '*stopped*'
        $steps = @($j.Steps | ForEach-Object Step)
        foreach ($s in 'Lock and journal', 'Back up', 'Prepare new version (old one serves)', 'Check environment and migrate', 'Stop current service', 'rollback') {
            $steps | Should-ContainCollection @($s)
        }
        foreach ($s in @($j.Steps | Where-Object Step -In 'Back up', 'Prepare new version (old one serves)', 'Stop current service')) { $s.Outcome | Should-Be 'Succeeded' }
        $steps | Should-NotContainCollection @('Switch and start new version') -Because 'the operator stopped before it'
        ($T | Get-VaultDeploymentJournal).RunId | Should-Be $runId
        $null = Invoke-Line '"status=$($r.Status) error=$($r.ErrorId)"'
        Get-Pane | Should-BeLikeString '*status=RolledBack error=StoppedByOperator*'
    }

    It 'Invoke-VaultDeployment asks first (ConfirmImpact High); N changes nothing' {
        $before = Get-OnCallServed $W
        $journals = Get-OnCallJournalFiles $W
        $asked = ([regex]::Matches((Get-Pane), [regex]::Escape('Are you sure you want to perform this action?'))).Count
        Send-Line '$n = $t | Invoke-VaultDeployment -Artifact $artifact -Sha256 $sha; "n=" + @($n).Count'
        $pane = Wait-Pane 'Are you sure you want to perform this action?' -Count ($asked + 1) -Question
        $pane | Should-BeLikeString '*`[Y`] Yes  `[A`] Yes to All  `[N`] No  `[L`] No to All*'
        $pane | Should-BeLikeString '*on target "tty-1 (local)"*'
        Send-Line 'N'
        $pane = Wait-Pane 'n=0'
        $after = Get-OnCallServed $W
        $after.Pid | Should-Be $before.Pid
        $after.Version | Should-Be $before.Version
        @(Get-OnCallJournalFiles $W).Count | Should-Be $journals.Count
        Test-Path -LiteralPath $W.Lock | Should-BeFalse
    }

    It 'Unlock-VaultDeployment -Force removes nothing when another run took the lock while it asked (LockChanged)' {
        $stamp = [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ')
        Set-Content -LiteralPath $W.Lock -NoNewline -Value "run=20261203T120000Z-0a1b2c token=first host=laptop-of-alice pid=4242 user=alice started=$stamp"
        try {
            $asked = ([regex]::Matches((Get-Pane), [regex]::Escape('Are you sure you want to perform this action?'))).Count
            Send-Line '$t | Unlock-VaultDeployment -Force'
            $pane = Wait-Pane 'Are you sure you want to perform this action?' -Count ($asked + 1) -Question
            $pane | Should-BeLikeString '*Remove the deployment lock of a LIVE run: run 20261203T120000Z-0a1b2c by alice on laptop-of-alice (pid 4242)*'
            # While the question is shown, another run's lock replaces it.
            $other = "run=20261203T120100Z-d4e5f6 token=second host=laptop-of-bob pid=777 user=bob started=$stamp"
            Set-Content -LiteralPath $W.Lock -NoNewline -Value $other
            Send-Line 'Y'
            $pane = Wait-Pane 'the deployment lock changed since it was read'
            $pane | Should-BeLikeString '*it is now run 20261203T120100Z-d4e5f6 by bob on laptop-of-bob*Nothing was removed.*'
            Get-Content -LiteralPath $W.Lock -Raw | Should-Be $other
            $null = Invoke-Line '"id=" + $Error[0].FullyQualifiedErrorId'
            Get-Pane | Should-BeLikeString '*id=LockChanged,YieldVault.Ops.Commands.UnlockVaultDeploymentCommand*'
        }
        finally { Remove-Item -LiteralPath $W.Lock -ErrorAction Ignore }
    }
}

Describe 'examples/incident-session.ps1 at a terminal' {
    It 'asks only before the runbook''s steps (Yes to All once), then watches and reports Deployed' {
        (Get-OnCallServed $W).Version | Should-Be '1.2.3'
        $pane = Get-Pane
        $asked = ([regex]::Matches($pane, [regex]::Escape('Are you sure you want to perform this action?'))).Count
        $steps = ([regex]::Matches($pane, [regex]::Escape("Run 'Lock and journal'?"))).Count
        $example = (Resolve-Path (Join-Path $PSScriptRoot '../../examples/incident-session.ps1')).Path
        Send-Line "`$s = & '$example' -Target `$t -Artifact `$artifact -Sha256 `$sha -WatchSec 5 -DiagnosisSampleSec 2 -Incident INC-9; 'session' + '-status=' + `$s.Status"
        $pane = Wait-Pane "Run 'Lock and journal'?" -Count ($steps + 1) -Question -TimeoutSec 120
        $pane | Should-BeLikeString '*=== Diagnosis of tty-1*=== Deployment lock*no lock is held*=== Deployment of *v1.3.0.tar.gz*'
        Send-Line 'A'
        $pane = Wait-Pane 'session-status=' -TimeoutSec 180   # spelled apart on the command line: only the output matches
        $pane | Should-BeLikeString '*session-status=Deployed*'
        $pane | Should-BeLikeString '*=== Watch for 5 s (runbook 10.1)*=== The journal of this session*'
        ([regex]::Matches($pane, [regex]::Escape("Run 'Back up'?"))).Count | Should-Be 1 -Because 'Yes to All asks no more (only the guided run before asked it)'
        ([regex]::Matches($pane, [regex]::Escape('Are you sure you want to perform this action?'))).Count | Should-Be $asked -Because 'no lock to clear, no rollback: nothing else asks'
        $served = Get-OnCallServed $W
        $served.Version | Should-Be '1.3.0'
        $served.Health | Should-Be 200
        ($T | Get-VaultDeploymentJournal).Outcome | Should-Be 'Succeeded'
    }
}
