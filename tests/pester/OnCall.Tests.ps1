# The on-call engineer's tools (issue 15) against a real PM2 target on this machine: the sample backend v1.2.3 under PM2
# with PostgreSQL and the Stellar RPC stand-in, deployments of pre-built artifacts (OnCallCommon.psm1). Invoke-VaultRunbook
# where nobody can answer (this pwsh is -NonInteractive; a child pwsh); the journal of a run, of a run whose pwsh was
# killed; the lock of a dead run, of another machine's run and of a live run in this process; Watch-VaultBackend and its
# -FailOn gate; Invoke-VaultDeployment -WatchSec rolling back a version whose errors start after verification; tab
# completion of -Ref and -Release. The guided session itself, answered at a terminal, is OnCall.Terminal.Tests.ps1.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/SampleArtifacts.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'OnCallCommon.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Stack = New-OnCallStack
    $script:W = New-OnCallWorkspace -Stack $Stack
    $script:wp = $W.Params
    $script:T = New-VaultTarget @wp
    $script:Art = Wait-OnCallArtifacts $Stack
    $script:Manifest = Get-VaultModuleManifest

    # Runs a script in a child pwsh (-NonInteractive unless -Interactive is off) that has the module and $t, the target.
    function Invoke-ChildPwsh([string] $Body, [int] $TimeoutSec = 180) {
        $params = ($W.Params.GetEnumerator() | ForEach-Object { "$($_.Key) = '$($_.Value)'" }) -join '; '
        Invoke-FreshPwsh -TimeoutSec $TimeoutSec -Script @"
`$ErrorActionPreference = 'Continue'
`$PSStyle.OutputRendering = 'PlainText'
Import-Module '$Manifest'
`$p = @{ $params }
`$t = New-VaultTarget @p
$Body
"@
    }
    function Get-NewJournal([string[]] $Known) { @(Get-OnCallJournalFiles $W | Where-Object { $_ -notin $Known }) }
    # A migration that waits for a file (at most 120 s), so a run can be caught in the middle: "sh -c ..." with a marker.
    function Get-WaitingMigration([string] $File, [string] $Marker) {
        'sh', '-c', "i=0; while [ ! -f '$File' ] && [ `$i -lt 1200 ]; do sleep 0.1; i=`$((i+1)); done; : $Marker"
    }
}

AfterAll {
    Get-Job | Remove-Job -Force -ErrorAction Ignore
    Remove-Variable -Name yvTabTarget -Scope Global -ErrorAction Ignore
    Stop-OnCallStack $script:Stack
    Stop-AllTestServices
}

Describe 'Invoke-VaultRunbook where nobody can answer' {
    It 'refuses a guided run (-Confirm) in this non-interactive pwsh with PromptUnavailable, before changing anything' {
        $before = Get-OnCallServed $W
        $journals = Get-OnCallJournalFiles $W
        $errs = $null
        $out = $T | Invoke-VaultRunbook -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Confirm -ErrorVariable errs -ErrorAction SilentlyContinue
        $out | Should-BeNull
        $errs.Count | Should-Be 1
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'PromptUnavailable,*'
        $errs[0].Exception.Message | Should-BeLikeString '*cannot prompt*Nothing was changed.'
        $errs[0].ErrorDetails.RecommendedAction | Should-BeLikeString '*-Confirm:$false*'
        (Get-OnCallServed $W).Pid | Should-Be $before.Pid
        Test-Path -LiteralPath $W.Lock | Should-BeFalse
        @(Get-NewJournal $journals).Count | Should-Be 0 -Because 'nothing ran: no journal'
    }

    It 'refuses in a -NonInteractive child pwsh with the default $ConfirmPreference, and the backend keeps serving' {
        $before = Get-OnCallServed $W
        $journals = Get-OnCallJournalFiles $W
        $r = Invoke-ChildPwsh @"
`$r = `$t | Invoke-VaultRunbook -Artifact '$($Art['v1.3.0'].Artifact)' -Sha256 '$($Art['v1.3.0'].Sha256)' -ErrorVariable e -ErrorAction SilentlyContinue
"confirm=`$ConfirmPreference out=`$(@(`$r).Count) err=`$(`$e[0].FullyQualifiedErrorId)"
"@
        $r.Output | Should-BeLikeString '*confirm=High out=0 err=PromptUnavailable,*'
        $after = Get-OnCallServed $W
        $after.Pid | Should-Be $before.Pid
        $after.Version | Should-Be '1.2.3'
        Test-Path -LiteralPath $W.Lock | Should-BeFalse
        @(Get-NewJournal $journals).Count | Should-Be 0
    }

    It 'checks what it deploys exactly as Invoke-VaultDeployment does (one validation): -Image plans on a Swarm target, -Ref there and -Image on PM2 are refused alike' -ForEach @(
        @{ Command = 'Invoke-VaultDeployment'; Type = 'InvokeVaultDeploymentCommand' }, @{ Command = 'Invoke-VaultRunbook'; Type = 'InvokeVaultRunbookCommand' }) {
        $swarm = New-VaultTarget -Name sw-1 -ServiceManager Swarm -ServiceName yv-plan -Port 3999 -AppPath $W.Directory
        # What if: lines go to the host, so a transcript catches them.
        $transcript = Join-Path $W.Directory "whatif-swarm-$Command.txt"
        Start-Transcript -LiteralPath $transcript -UseMinimalHeader | Out-Null
        try { & $Command -Target $swarm -Image '127.0.0.1:5000/yv:v1.3.0' -WhatIf -ErrorAction Stop }
        finally { Stop-Transcript | Out-Null }
        $plan = Get-Content -LiteralPath $transcript -Raw
        $plan | Should-BeLikeString '*Step 7/10 Switch and start new version*docker service update --image 127.0.0.1:5000/yv:v1.3.0@<digest>*'
        $e = Get-VaultCommandError $swarm $Command "DockerNeedsImage,YieldVault.Ops.Commands.$Type" -Category InvalidArgument -Parameters @{ Ref = 'v1.3.0'; WhatIf = $true }
        $e.Exception.Message | Should-BeLikeString '*is run by Swarm; deploy an image with -Image*'
        $e = Get-VaultCommandError $T $Command "ImageNeedsDocker,YieldVault.Ops.Commands.$Type" -Category InvalidArgument -Parameters @{ Image = 'yv:v1.3.0'; WhatIf = $true }
        $e.Exception.Message | Should-BeLikeString '*ServiceManager Docker or Swarm*'
    }

    It '-WhatIf shows the ten steps and which of them ask' {
        # What-if lines go to the host: read them from a child pwsh's output.
        $journals = Get-OnCallJournalFiles $W
        $r = Invoke-ChildPwsh "`$t | Invoke-VaultRunbook -Artifact '$($Art['v1.3.0'].Artifact)' -Sha256 '$($Art['v1.3.0'].Sha256)' -WhatIf"
        $r.Output | Should-BeLikeString '*Step 1/10 Assess current state*runs without asking*'
        $r.Output | Should-BeLikeString '*Step 3/10 Back up*asks first, may be skipped*'
        $r.Output | Should-BeLikeString '*Step 6/10 Stop current service*asks first*'
        $r.Output | Should-BeLikeString '*Step 8/10 Verify deployment*runs without asking*'
        $r.Output | Should-BeLikeString '*Step 9/10 Smoke tests*asks first, may be skipped*'
        @(Get-NewJournal $journals).Count | Should-Be 0
    }

    It 'with -Confirm:$false asks nothing and deploys as Invoke-VaultDeployment does' {
        $shown = $null
        $script:RunbookResult = $T | Invoke-VaultRunbook -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Confirm:$false -InformationVariable shown
        $RunbookResult.Status | Should-Be 'Succeeded'
        $RunbookResult.VersionBefore | Should-Be '1.2.3'
        $RunbookResult.VersionAfter | Should-Be '1.3.0'
        @($RunbookResult.Steps).Count | Should-Be 10
        @($RunbookResult.Steps | Where-Object Outcome -EQ 'Failed').Count | Should-Be 0
        @($shown | Where-Object { "$_" -like 'Step */10*' }).Count | Should-Be 0 -Because 'an unguided run shows no step on the host'
        $served = Get-OnCallServed $W
        $served.Version | Should-Be '1.3.0'
        $served.Health | Should-Be 200
        Test-Path -LiteralPath $W.Lock | Should-BeFalse
    }
}

Describe 'Get-VaultDeploymentJournal' {
    It 'reads the last run back: its steps, outcome and versions' {
        $j = @($T | Get-VaultDeploymentJournal)
        $j.Count | Should-Be 1
        $j[0].RunId | Should-Be $RunbookResult.RunId
        $j[0].Outcome | Should-Be 'Succeeded'
        $j[0].VersionBefore | Should-Be '1.2.3'
        $j[0].VersionAfter | Should-Be '1.3.0'
        $j[0].Path | Should-Be $RunbookResult.JournalPath
        $names = @($j[0].Steps | ForEach-Object Step)
        # Step 1 (assess) runs before the lock and the journal exist; every later step is journaled.
        $names | Should-BeCollection @($RunbookResult.Steps | Where-Object Number -GT 1 | ForEach-Object Name)
        ($j[0].Steps | Where-Object Step -EQ 'Stop current service').Outcome | Should-Be 'Succeeded'
        $j[0].BadLines | Should-Be 0
        $j[0].Rollback | Should-BeNull
    }

    It 'reads runs by id, also piped from a result, and names a run that has no journal' {
        $byId = @($T | Get-VaultDeploymentJournal -RunId $RunbookResult.RunId)
        $byId.Count | Should-Be 1
        $byId[0].Outcome | Should-Be 'Succeeded'
        $piped = @($RunbookResult | Get-VaultDeploymentJournal)
        $piped[0].RunId | Should-Be $RunbookResult.RunId

        $errs = $null
        $missing = '20200101T000000Z-abcdef'
        $out = @($T | Get-VaultDeploymentJournal -RunId $RunbookResult.RunId, $missing -ErrorVariable errs -ErrorAction SilentlyContinue)
        $out.Count | Should-Be 1
        $errs.Count | Should-Be 1
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'JournalNotFound,*'
        $errs[0].Exception.Message | Should-BeLikeString "*no journal of run $missing*"
    }

    It 'reads the run of a pwsh that was killed as Unfinished; its stale lock is named, cleared, and the run closed as Abandoned' {
        $before = Get-OnCallServed $W
        $journals = Get-OnCallJournalFiles $W
        $marker = 'yv-killed-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
        $never = Join-Path $W.Directory "$marker.never"
        $cmd = (Get-WaitingMigration $never $marker | ForEach-Object { "'" + ($_ -replace "'", "''") + "'" }) -join ', '
        $script = Join-Path $W.Directory ('killed-' + [guid]::NewGuid().ToString('N') + '.ps1')
        $params = ($W.Params.GetEnumerator() | ForEach-Object { "$($_.Key) = '$($_.Value)'" }) -join '; '
        Set-Content -LiteralPath $script -Value @"
`$PSStyle.OutputRendering = 'PlainText'
Import-Module '$Manifest'
`$p = @{ $params }
`$t = New-VaultTarget @p
`$t | Invoke-VaultDeployment -Artifact '$($Art['v1.2.3'].Artifact)' -Sha256 '$($Art['v1.2.3'].Sha256)' -MigrationTiming BeforeStop -MigrationCommand $cmd -Confirm:`$false
"@
        $child = Start-Process -FilePath (Get-PwshPath) -ArgumentList '-NoProfile', '-NonInteractive', '-File', $script -PassThru -RedirectStandardOutput "$script.out" -RedirectStandardError "$script.err"
        try {
            Wait-OnCallCondition -What "the child's migration ($marker) to run" -TimeoutSec 120 -Condition {
                if ($child.HasExited) { throw "The child pwsh exited ($($child.ExitCode)): $(Get-Content -Raw "$script.out") $(Get-Content -Raw "$script.err")" }
                @(& pgrep -f $marker).Count -gt 0
            }
            & kill -9 $child.Id
            $child.WaitForExit(10000) | Should-BeTrue
        }
        finally {
            if (-not $child.HasExited) { $child.Kill($true) }
            foreach ($p in @(& pgrep -f $marker)) { & kill -9 $p }
        }
        $new = @(Get-NewJournal $journals)
        $new.Count | Should-Be 1
        $runId = [IO.Path]::GetFileNameWithoutExtension($new[0])

        $j = @($T | Get-VaultDeploymentJournal)
        $j[0].RunId | Should-Be $runId
        $j[0].Outcome | Should-Be 'Unfinished' -Because 'its pwsh is gone and did not end the journal'
        $j[0].EndedAt | Should-BeNull
        $migrate = $j[0].Steps | Where-Object Step -EQ 'Check environment and migrate'
        $migrate.StartedAt | Should-NotBeNull
        $migrate.EndedAt | Should-BeNull
        @($j[0].Steps | Where-Object Step -EQ 'Stop current service').Count | Should-Be 0

        $lock = $T | Get-VaultDeploymentLock
        $lock.RunId | Should-Be $runId
        $lock.ProcessId | Should-Be $child.Id
        $lock.IsStale | Should-BeTrue
        $lock.StaleReason | Should-Be "its process $($child.Id) on this machine is gone"
        $lock.JournalPath | Should-Be $new[0]

        $cleared = $T | Unlock-VaultDeployment -Confirm:$false
        $cleared.Cleared | Should-BeTrue
        $cleared.RunId | Should-Be $runId
        Test-Path -LiteralPath $W.Lock | Should-BeFalse
        $T | Get-VaultDeploymentLock | Should-BeNull
        $closed = $T | Get-VaultDeploymentJournal -RunId $runId
        $closed.Outcome | Should-Be 'Abandoned'
        $closed.Detail | Should-BeLikeString '*Unlock-VaultDeployment*'

        $after = Get-OnCallServed $W
        $after.Version | Should-Be $before.Version -Because 'the killed run migrated before the stop: the old version never stopped'
        $after.Pid | Should-Be $before.Pid
    }
}

Describe 'Get-VaultDeploymentLock and Unlock-VaultDeployment' {
    It 'says there is no lock, and Unlock-VaultDeployment has nothing to clear' {
        $T | Get-VaultDeploymentLock | Should-BeNull
        $warnings = $null
        $T | Unlock-VaultDeployment -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue | Should-BeNull
        "$warnings" | Should-BeLikeString '*no deployment lock is held*nothing to clear*'
    }

    It "refuses the fresh lock of another machine's run without -Force; -Force clears it" {
        $runId = '20261203T120000Z-0a1b2c'
        $holder = "run=$runId token=t0k3n host=laptop-of-alice pid=4242 user=alice started=$([DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ'))"
        Set-Content -LiteralPath $W.Lock -Value $holder -NoNewline
        try {
            $lock = $T | Get-VaultDeploymentLock
            $lock.RunId | Should-Be $runId
            $lock.Machine | Should-Be 'laptop-of-alice'
            $lock.User | Should-Be 'alice'
            $lock.IsStale | Should-BeFalse

            $err = Get-VaultCommandError -Target $T -Command Unlock-VaultDeployment -FullyQualifiedErrorId 'DeploymentLocked,YieldVault.Ops.Commands.UnlockVaultDeploymentCommand'
            $err.Exception.Message | Should-BeLikeString "*held by a live run (run $runId by alice on laptop-of-alice (pid 4242)*Nothing was removed."
            Get-Content -LiteralPath $W.Lock -Raw | Should-Be $holder

            $cleared = $T | Unlock-VaultDeployment -Force -Confirm:$false
            $cleared.Cleared | Should-BeTrue
            $cleared.IsStale | Should-BeFalse
            Test-Path -LiteralPath $W.Lock | Should-BeFalse
        }
        finally { Remove-Item -LiteralPath $W.Lock -ErrorAction Ignore }
    }

    It 'clears the live lock of a run in this process only with -Force; that run then stops with LockLost and the old version serves' {
        $before = Get-OnCallServed $W
        $journals = Get-OnCallJournalFiles $W
        $marker = 'yv-live-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
        $go = Join-Path $W.Directory "$marker.go"
        $job = Start-ThreadJob -ArgumentList $Manifest, $W.Params, $Art['v1.2.3'].Artifact, $Art['v1.2.3'].Sha256, (Get-WaitingMigration $go $marker) -ScriptBlock {
            param($manifest, $p, $artifact, $sha, $migration)
            Import-Module $manifest
            New-VaultTarget @p | Invoke-VaultDeployment -Artifact $artifact -Sha256 $sha -MigrationTiming BeforeStop -MigrationCommand $migration -Confirm:$false -ErrorAction SilentlyContinue
        }
        try {
            Wait-OnCallCondition -What "the run's migration ($marker) to run" -TimeoutSec 120 -Condition {
                if ($job.State -notin 'NotStarted', 'Running') { throw "The run ended early: $($job | Receive-Job -Keep *>&1 | Out-String)" }
                @(& pgrep -f $marker).Count -gt 0
            }
            $lock = $T | Get-VaultDeploymentLock
            $lock.IsStale | Should-BeFalse
            $lock.ProcessId | Should-Be $PID
            $lock.Age.TotalSeconds | Should-BeLessThan 60

            $null = Get-VaultCommandError -Target $T -Command Unlock-VaultDeployment -FullyQualifiedErrorId 'DeploymentLocked,YieldVault.Ops.Commands.UnlockVaultDeploymentCommand'
            Test-Path -LiteralPath $W.Lock | Should-BeTrue

            $cleared = $T | Unlock-VaultDeployment -Force -Confirm:$false
            $cleared.Cleared | Should-BeTrue
            $cleared.RunId | Should-Be $lock.RunId
            New-Item -ItemType File -Path $go | Out-Null
            $job | Wait-Job -Timeout 120 | Out-Null
            $job.State | Should-Be 'Completed'
            $result = @($job | Receive-Job) | Where-Object { $_.PSObject.Properties['RunId'] }
        }
        finally {
            $job | Stop-Job -PassThru | Remove-Job -Force
            foreach ($p in @(& pgrep -f $marker)) { & kill -9 $p }
        }
        $result.RunId | Should-Be $lock.RunId
        $result.ErrorId | Should-Be 'LockLost'
        $j = $T | Get-VaultDeploymentJournal -RunId $lock.RunId
        ($j.Steps | Where-Object Step -EQ 'lock').Outcome | Should-Be 'Forced'
        ($j.Steps | Where-Object Step -EQ 'lock').Detail | Should-BeLikeString '*cleared with -Force by Unlock-VaultDeployment*'
        $j.Outcome | Should-NotBe 'Succeeded'
        $j.EndedAt | Should-NotBeNull -Because 'the run ends its own journal after it lost the lock'
        @($j.Steps | Where-Object Step -EQ 'Stop current service').Count | Should-Be 0
        $after = Get-OnCallServed $W
        $after.Version | Should-Be $before.Version
        $after.Pid | Should-Be $before.Pid
        @(Get-NewJournal $journals).Count | Should-Be 1
    }
}

Describe 'Watch-VaultBackend' {
    It 'returns a reading per interval for the time asked' {
        $samples = @($T | Watch-VaultBackend -DurationSec 4 -IntervalSec 1 -ProgressAction SilentlyContinue)
        $samples.Count | Should-BeGreaterThanOrEqual 3
        $samples.Count | Should-BeLessThanOrEqual 5
        foreach ($s in $samples) {
            $s.Healthy | Should-BeTrue
            $s.StatusCode | Should-Be 200
            "$($s.State)" | Should-Be 'Running'
            $s.MemoryMB | Should-BeGreaterThan 1
            $s.Restarts | Should-Be 0
            $s.Errors | Should-Be 0
            $s.Target.Name | Should-Be 'oncall-1'
        }
        $samples[-1].Elapsed.TotalSeconds | Should-BeGreaterThanOrEqual 2.5
    }

    It '-FailOn stops at the first reading that crosses a threshold with WatchThresholdExceeded' {
        $errs = $null
        $samples = @($T | Watch-VaultBackend -DurationSec 20 -IntervalSec 1 -FailOn @{ MemoryMB = 1; Restarts = 0 } -ErrorVariable errs -ErrorAction SilentlyContinue -ProgressAction SilentlyContinue)
        $samples.Count | Should-Be 1
        @($samples[0].Breaches).Count | Should-Be 1
        $samples[0].Breaches[0] | Should-BeLikeString 'MemoryMB*'
        $errs.Count | Should-Be 1
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'WatchThresholdExceeded,*'
        $errs[0].Exception.Message | Should-BeLikeString '*the watch failed after * s: MemoryMB * > 1 (-FailOn *'
    }

    It 'rejects a threshold that is not a number with InvalidThreshold before watching' {
        { $T | Watch-VaultBackend -DurationSec 5 -FailOn @{ Errors = 'many' } -ErrorAction Stop } | Should-Throw -ExceptionMessage "*-FailOn Errors = 'many' is not a number*"
    }
}

Describe 'Invoke-VaultDeployment -WatchSec' {
    It 'rolls back a version whose errors start after its verification, and the journal says why' {
        $before = Get-OnCallServed $W
        $before.Version | Should-Be '1.3.0'
        $journals = Get-OnCallJournalFiles $W
        $armed = Join-Path $W.LogDir 'reconciler.fail'
        Remove-Item -LiteralPath $armed -ErrorAction Ignore
        $job = Start-ThreadJob -ArgumentList $Manifest, $W.Params, $Art['v1.3.6-errors'].Artifact, $Art['v1.3.6-errors'].Sha256 -ScriptBlock {
            param($manifest, $p, $artifact, $sha)
            Import-Module $manifest
            New-VaultTarget @p | Invoke-VaultDeployment -Artifact $artifact -Sha256 $sha -SkipSmoke -WatchSec 20 -Confirm:$false -ErrorAction Continue -ProgressAction SilentlyContinue
        }
        try {
            # Step 9 (the smoke checks are skipped: the watch alone) has started: the new version was verified. Now its reconciler fails.
            Wait-OnCallCondition -What 'the run to reach its watch (step 9)' -TimeoutSec 180 -Condition {
                if ($job.State -notin 'NotStarted', 'Running') { throw "The run ended before its watch: $($job | Receive-Job -Keep *>&1 | Out-String)" }
                $new = @(Get-NewJournal $journals)
                $new.Count -eq 1 -and (Get-Content -LiteralPath $new[0] -Raw) -match '"step":"Smoke tests","phase":"start"'
            }
            (Get-OnCallServed $W).Version | Should-Be '1.3.6-errors'
            New-Item -ItemType File -Path $armed | Out-Null
            $job | Wait-Job -Timeout 180 | Out-Null
            $job.State | Should-Be 'Completed'
            $jobErrors = $null
            $result = @($job | Receive-Job -ErrorVariable jobErrors -ErrorAction SilentlyContinue) | Where-Object { $_.PSObject.Properties['RunId'] }
        }
        finally {
            $job | Stop-Job -PassThru | Remove-Job -Force
            Remove-Item -LiteralPath $armed -ErrorAction Ignore
        }
        $result.Status | Should-Be 'RolledBack'
        $result.ErrorId | Should-Be 'WatchThresholdExceeded'
        $result.Error | Should-BeLikeString '*the watch after the deployment failed*Errors*settlement reconciler: ledger cursor lost*'
        $result.VersionAfter | Should-Be '1.3.0'
        @($jobErrors).Count | Should-Be 1
        $jobErrors[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        ($result.Steps | Where-Object Number -EQ 9).Outcome | Should-Be 'Failed'

        $served = Get-OnCallServed $W
        $served.Version | Should-Be '1.3.0'
        $served.Health | Should-Be 200
        $j = $T | Get-VaultDeploymentJournal -RunId $result.RunId
        $j.Outcome | Should-Be 'RolledBack'
        $j.Rollback | Should-Be 'Succeeded'
        ($j.Steps | Where-Object Step -EQ 'Smoke tests').Outcome | Should-Be 'Failed'
        ($j.Steps | Where-Object Step -EQ 'Smoke tests').Detail | Should-BeLikeString '*the watch after the deployment failed after * s: Errors * > 0*'
    }
}

Describe 'The journal and the lock over SSH' {
    BeforeAll {
        $script:Sshd = Start-TestSshd
        # The journals the tests above wrote (so this Describe reads them only after those), in a state directory of the
        # SSH user (yvops) on the SSH host (this machine).
        $script:SshState = Join-Path $W.Root 'ssh-state'
        New-Item -ItemType Directory -Path $SshState | Out-Null
        & cp -a -- $W.State (Join-Path $SshState 'yieldvault-backend')
        & chown -R "$($Sshd.User):" $SshState
        $script:SshTarget = New-VaultTarget -Name oncall-ssh -HostName $Sshd.HostName -SshPort $Sshd.Port -User $Sshd.User -KeyFile $Sshd.UserKeyFile `
            -KnownHostsFile $Sshd.KnownHostsFile -AppPath (Join-Path $SshState 'app') -ServiceManager Pm2 -StatePath $SshState
    }
    AfterAll { if ($script:Sshd) { Stop-TestSshd $Sshd } }

    It 'reads the same runs over SSH as on this machine' {
        $local = @($T | Get-VaultDeploymentJournal -Last 3)
        $remote = @($SshTarget | Get-VaultDeploymentJournal -Last 3)
        $remote.Count | Should-Be 3
        @($remote.RunId) | Should-BeCollection @($local.RunId)
        @($remote.Outcome) | Should-BeCollection @($local.Outcome)
        $remote[0].Target.Name | Should-Be 'oncall-ssh'
        @($remote[0].Steps).Count | Should-Be @($local[0].Steps).Count
    }

    It 'reads a live lock over SSH, refuses it without -Force and clears it with -Force' {
        $lockPath = Join-Path $SshState 'yieldvault-backend/deploy.lock'
        Set-Content -LiteralPath $lockPath -NoNewline -Value "run=20261203T130000Z-5e55e5 token=t host=laptop-of-dan pid=31 user=dan started=$([DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ'))"
        & chown "$($Sshd.User):" $lockPath
        try {
            $lock = $SshTarget | Get-VaultDeploymentLock
            $lock.RunId | Should-Be '20261203T130000Z-5e55e5'
            $lock.IsStale | Should-BeFalse
            $null = Get-VaultCommandError -Target $SshTarget -Command Unlock-VaultDeployment -FullyQualifiedErrorId 'DeploymentLocked,YieldVault.Ops.Commands.UnlockVaultDeploymentCommand'
            ($SshTarget | Unlock-VaultDeployment -Force -Confirm:$false).Cleared | Should-BeTrue
            Test-Path -LiteralPath $lockPath | Should-BeFalse
        }
        finally { Remove-Item -LiteralPath $lockPath -ErrorAction Ignore }
    }
}

Describe 'Tab completion of the deployment sources' {
    BeforeAll {
        # The origin named by the target (-Repository): the app path is an artifact's release now, without a git remote.
        $global:yvTabTarget = New-VaultTarget @wp -Repository (Join-Path $W.Directory 'origin.git')
    }

    It '-Ref completes the tags of the target''s origin, the target piped in or given with -Target' {
        foreach ($line in '$yvTabTarget | Invoke-VaultDeployment -Ref v1.3.', 'Invoke-VaultRunbook -Target $yvTabTarget -Ref v1.3.') {
            $c = TabExpansion2 -inputScript $line -cursorColumn $line.Length
            $texts = @($c.CompletionMatches | ForEach-Object CompletionText)
            foreach ($tag in 'v1.3.0', 'v1.3.1-broken', 'v1.3.6-errors') { $texts | Should-ContainCollection @($tag) }
            $texts | Should-NotContainCollection @('v1.2.3')
            ($c.CompletionMatches | Where-Object CompletionText -EQ 'v1.3.6-errors').ToolTip | Should-BeLikeString '*on oncall-1*'
        }
    }

    It '-Release completes the releases on the target' {
        $releases = @(Get-ChildItem -LiteralPath "$($W.App)-releases/releases" -Directory | ForEach-Object Name)
        $releases.Count | Should-BeGreaterThan 0
        $line = 'Undo-VaultDeployment -Target $yvTabTarget -Release '
        $c = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        $texts = @($c.CompletionMatches | ForEach-Object CompletionText)
        $texts.Count | Should-BeGreaterThan 0
        foreach ($t in $texts) { $releases | Should-ContainCollection @($t.Trim("'")) }
    }

    It 'completes nothing for a target that is not in a variable, and without a target' {
        $line = 'Invoke-VaultDeployment -Ref v1.3.'
        @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches).Count | Should-Be 0
    }
}

Describe 'examples/incident-session.ps1' {
    BeforeAll {
        # A workspace of its own, serving v1.2.3.
        $script:W2 = New-OnCallWorkspace -Stack $Stack -Name incident -TargetName incident-1
        $script:Example = Join-Path $PSScriptRoot '../../examples/incident-session.ps1'

        # Starts the example in a child pwsh -NonInteractive (-NonInteractive passed to the example too); the child
        # writes the example's summary as JSON, the fields a test reads, as its last line. Returns the process and its output file.
        function Start-Example([string] $Arguments) {
            $params = ($W2.Params.GetEnumerator() | ForEach-Object { "$($_.Key) = '$($_.Value)'" }) -join '; '
            $file = Join-Path $W2.Directory ('example-' + [guid]::NewGuid().ToString('N') + '.ps1')
            Set-Content -LiteralPath $file -Value @"
`$PSStyle.OutputRendering = 'PlainText'
`$ErrorActionPreference = 'Stop'
Import-Module '$Manifest'
`$p = @{ $params }
`$t = New-VaultTarget @p
`$s = & '$Example' -Target `$t $Arguments -NonInteractive -DiagnosisSampleSec 2 -ProgressAction SilentlyContinue
[pscustomobject]@{
    Status = `$s.Status; Served = `$s.ServedVersion; LockCleared = `$s.LockCleared; Problems = @(`$s.Problems).Count
    DeployStatus = "`$(`$s.Deployment.Status)"; DeployRunId = `$s.Deployment.RunId; Readings = `$s.Watch.Readings; Breach = `$s.Watch.Breach
    RollbackStatus = "`$(`$s.Rollback.Status)"; RollbackRunId = `$s.Rollback.RunId
    Journals = @(`$s.Journals | ForEach-Object { [pscustomobject]@{ RunId = `$_.RunId; Outcome = `$_.Outcome } })
} | ConvertTo-Json -Compress -Depth 4
"@
            $proc = Start-Process -FilePath (Get-PwshPath) -ArgumentList '-NoProfile', '-NonInteractive', '-File', $file -PassThru `
                -RedirectStandardOutput "$file.out" -RedirectStandardError "$file.err"
            [pscustomobject]@{ Process = $proc; Out = "$file.out"; Err = "$file.err" }
        }
        function Wait-Example($Run, [int] $TimeoutSec = 240) {
            if (-not $Run.Process.WaitForExit($TimeoutSec * 1000)) { $Run.Process.Kill($true); throw "The example did not finish within $TimeoutSec s." }
            $out = Get-Content -LiteralPath $Run.Out -Raw
            $json = @($out -split "`n" | Where-Object { $_.StartsWith('{') }) | Select-Object -Last 1
            if (-not $json) { throw "The example wrote no summary (exit $($Run.Process.ExitCode)):`n$out`n$(Get-Content -LiteralPath $Run.Err -Raw)" }
            [pscustomobject]@{ Summary = ConvertFrom-Json $json; Output = $out }
        }
    }

    It 'clears a stale lock, deploys without asking, watches, and reads the runs back from the journal' {
        # A lock not refreshed for 10 minutes (its run died on another machine): stale.
        $dead = '20261203T100000Z-deadbe'
        New-Item -ItemType Directory -Path (Split-Path $W2.Lock) -Force | Out-Null
        Set-Content -LiteralPath $W2.Lock -NoNewline -Value "run=$dead token=gone host=laptop-of-carol pid=99 user=carol started=2026-12-03T10:00:00Z"
        & touch -d '-10 minutes' $W2.Lock
        $report = Join-Path $W2.Directory 'INC-7.md'
        $r = Wait-Example (Start-Example "-Artifact '$($Art['v1.3.0'].Artifact)' -Sha256 '$($Art['v1.3.0'].Sha256)' -Incident INC-7 -WatchSec 6 -ReportPath '$report'")
        $s = $r.Summary
        $s.Status | Should-Be 'Deployed'
        $s.Served | Should-Be '1.3.0'
        $s.LockCleared | Should-Be $dead
        $s.DeployStatus | Should-Be 'Succeeded'
        $s.Readings | Should-BeGreaterThanOrEqual 2
        $s.Breach | Should-BeNull
        @($s.Journals).Count | Should-Be 1 -Because "the dead run's journal is not on this target; the deployment's is"
        $s.Journals[0].RunId | Should-Be $s.DeployRunId
        $s.Journals[0].Outcome | Should-Be 'Succeeded'
        $r.Output | Should-BeLikeString "*a stale lock is left: run $dead (not refreshed for * s)*"
        $r.Output | Should-NotBeLikeString '*Are you sure*'
        Test-Path -LiteralPath $W2.Lock | Should-BeFalse
        (Get-Content -LiteralPath $report -Raw) | Should-BeLikeString '*INC-7*'
        $served = Get-OnCallServed $W2
        $served.Version | Should-Be '1.3.0'
        $served.Health | Should-Be 200
    }

    It 'rolls back with Undo-VaultDeployment when the watch fails, and the journal has both runs' {
        $journals = Get-OnCallJournalFiles $W2
        $armed = Join-Path $W2.LogDir 'reconciler.fail'
        Remove-Item -LiteralPath $armed -ErrorAction Ignore
        $run = Start-Example "-Artifact '$($Art['v1.3.6-errors'].Artifact)' -Sha256 '$($Art['v1.3.6-errors'].Sha256)' -WatchSec 30"
        try {
            # The deployment has ended (verified and recorded): the example watches now. Then the reconciler fails.
            Wait-OnCallCondition -What 'the deployment of v1.3.6-errors to end' -TimeoutSec 180 -Condition {
                if ($run.Process.HasExited) { throw "The example ended early:`n$(Get-Content -Raw $run.Out)`n$(Get-Content -Raw $run.Err)" }
                $new = @(Get-OnCallJournalFiles $W2 | Where-Object { $_ -notin $journals })
                $new.Count -eq 1 -and (Get-Content -LiteralPath $new[0] -Raw) -match '"step":"run","phase":"end","outcome":"Succeeded"'
            }
            New-Item -ItemType File -Path $armed | Out-Null
            $r = Wait-Example $run
        }
        finally {
            if (-not $run.Process.HasExited) { $run.Process.Kill($true) }
            Remove-Item -LiteralPath $armed -ErrorAction Ignore
        }
        $s = $r.Summary
        $s.DeployStatus | Should-Be 'Succeeded'
        $s.Breach | Should-BeLikeString '*the watch failed after * s: Errors * > 0*'
        $s.RollbackStatus | Should-Be 'Succeeded'
        $s.Status | Should-Be 'RolledBack'
        $s.Served | Should-Be '1.3.0'
        @($s.Journals.RunId) | Should-BeCollection @($s.DeployRunId, $s.RollbackRunId)
        $r.Output | Should-BeLikeString '*The watch failed: rolling back*'
        $served = Get-OnCallServed $W2
        $served.Version | Should-Be '1.3.0'
        $served.Health | Should-Be 200
        ($T | Get-VaultDeploymentJournal -RunId $s.DeployRunId -ErrorAction SilentlyContinue) | Should-BeNull -Because 'each target has its own journal'
        $wp2 = $W2.Params
        (New-VaultTarget @wp2 | Get-VaultDeploymentJournal -RunId $s.RollbackRunId).Outcome | Should-Be 'Succeeded'
    }
}
